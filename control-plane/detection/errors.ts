import { ArcsimError, type ErrorSpec } from '../../protocol/errors.ts';

/** Rule-loading faults: a rule that cannot be honoured exactly is refused, never weakened. */
export const RULE_ERRORS = {
  ARCSIM_E_RULE_YAML: { status: 422, closeCode: null, message: 'rule file is not valid YAML' },
  ARCSIM_E_RULE_SCHEMA: { status: 422, closeCode: null, message: 'rule does not match the Sigma rule schema' },
  ARCSIM_E_RULE_UNSUPPORTED: { status: 422, closeCode: null, message: 'rule uses a Sigma construct arcsim does not support' },
  ARCSIM_E_RULE_FIELD: { status: 422, closeCode: null, message: 'rule names a field that its log source does not have' },
  ARCSIM_E_RULE_CONDITION: { status: 422, closeCode: null, message: 'rule condition cannot be parsed' },
  ARCSIM_E_RULE_REFERENCE: { status: 422, closeCode: null, message: 'correlation refers to a rule that does not exist' },
  ARCSIM_E_RULE_DUPLICATE: { status: 422, closeCode: null, message: 'two rules share an id or name' },
} as const satisfies Record<string, ErrorSpec>;

export type RuleErrorCode = keyof typeof RULE_ERRORS;

/** A rule error names the file and rule, and the path inside the rule. */
export function ruleError(code: RuleErrorCode, where: string, detail: string, path?: string): ArcsimError {
  return new ArcsimError(code, RULE_ERRORS[code], `${where}: ${detail}`, path);
}
