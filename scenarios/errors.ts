import { ArcsimError, type ErrorSpec } from '../protocol/errors.ts';

/** Scenario-file faults; every error carries the file and a path into it. */
export const SCENARIO_ERRORS = {
  ARCSIM_E_SCENARIO_YAML: { status: 422, closeCode: null, message: 'scenario file is not valid YAML' },
  ARCSIM_E_SCENARIO_SCHEMA: { status: 422, closeCode: null, message: 'scenario does not match the scenario schema' },
  ARCSIM_E_SCENARIO_UNKNOWN_KEY: { status: 422, closeCode: null, message: 'scenario has a key the format does not define' },
  ARCSIM_E_SCENARIO_MISSING_ARGUMENT: { status: 422, closeCode: null, message: 'scenario uses an input argument it does not declare' },
  ARCSIM_E_SCENARIO_UNUSED_ARGUMENT: { status: 422, closeCode: null, message: 'scenario declares an input argument it never uses' },
  ARCSIM_E_SCENARIO_ARGUMENT_TYPE: { status: 422, closeCode: null, message: 'input argument value does not match its declared type' },
  ARCSIM_E_SCENARIO_TECHNIQUE: { status: 422, closeCode: null, message: 'not an ATT&CK technique id (T1234 or T1234.001)' },
  ARCSIM_E_SCENARIO_TACTIC: { status: 422, closeCode: null, message: 'not an ATT&CK tactic name (e.g. CredentialAccess)' },
  ARCSIM_E_SCENARIO_PLATFORM: { status: 422, closeCode: null, message: 'scenario events need a platform it does not declare (SqlEvents need sql)' },
  ARCSIM_E_SCENARIO_TABLE: { status: 422, closeCode: null, message: 'unknown event table' },
  ARCSIM_E_SCENARIO_COLUMN: { status: 422, closeCode: null, message: 'event column does not exist in its table, or its value has the wrong type' },
  ARCSIM_E_SCENARIO_TIMING: { status: 422, closeCode: null, message: 'impossible timing' },
} as const satisfies Record<string, ErrorSpec>;

export type ScenarioErrorCode = keyof typeof SCENARIO_ERRORS;

export function scenarioError(code: ScenarioErrorCode, file: string, path: string, detail: string): ArcsimError {
  return new ArcsimError(code, SCENARIO_ERRORS[code], `${file}${path ? ` at ${path}` : ''}: ${detail}`, path);
}
