import { ArcsimError, type ErrorSpec } from '../protocol/errors.ts';

/** Suite-file faults (issue #7 test runs): a suite with any of them is refused before anything runs. */
export const SUITE_ERRORS = {
  ARCSIM_E_SUITE_YAML: { status: 422, closeCode: null, message: 'suite file is not valid YAML' },
  ARCSIM_E_SUITE_SCHEMA: { status: 422, closeCode: null, message: 'suite does not match the suite schema' },
  ARCSIM_E_SUITE_UNKNOWN_KEY: { status: 422, closeCode: null, message: 'suite has a key the format does not define' },
  ARCSIM_E_SUITE_SCENARIO: { status: 422, closeCode: null, message: 'suite names a scenario that does not exist or is not valid' },
  ARCSIM_E_SUITE_INPUT: { status: 422, closeCode: null, message: 'scenario input is not declared by the scenario or has the wrong type' },
  ARCSIM_E_SUITE_REFERENCE: { status: 422, closeCode: null, message: 'suite refers to a host selector or scenario run it does not define' },
  ARCSIM_E_SUITE_DUPLICATE: { status: 422, closeCode: null, message: 'two scenario runs or incident checks share an id' },
  ARCSIM_E_SUITE_EXPECTATION: { status: 422, closeCode: null, message: 'expectation cannot be checked as written' },
} as const satisfies Record<string, ErrorSpec>;

export type SuiteErrorCode = keyof typeof SUITE_ERRORS;

export function suiteError(code: SuiteErrorCode, file: string, path: string, detail: string): ArcsimError {
  return new ArcsimError(code, SUITE_ERRORS[code], `${file}${path ? ` at ${path}` : ''}: ${detail}`, path);
}

/** Every error found in one suite file, in file order; thrown as one so callers see them all at once. */
export class SuiteErrors extends ArcsimError {
  constructor(readonly errors: ArcsimError[]) {
    const first = errors[0]!;
    super(first.code, { status: 422, closeCode: null, message: first.message }, errors.length > 1 ? `(and ${errors.length - 1} more)` : undefined, first.path);
  }
}
