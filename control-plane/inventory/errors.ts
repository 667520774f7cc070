import { ArcsimError, type ErrorSpec } from '../../protocol/errors.ts';

/**
 * Inventory faults: connector definitions, cloud snapshots, findings and pulls. A refused
 * snapshot changes nothing (the import is one transaction and validation runs before it).
 */
export const INVENTORY_ERRORS = {
  ARCSIM_E_SNAPSHOT_JSON: { status: 400, closeCode: null, message: 'snapshot is not valid JSON (truncated?)' },
  ARCSIM_E_SNAPSHOT_FORMAT: { status: 422, closeCode: null, message: 'snapshot is not one of the supported cloud outputs' },
  ARCSIM_E_SNAPSHOT_SCHEMA: { status: 422, closeCode: null, message: 'snapshot does not match the schema of its cloud output' },
  ARCSIM_E_SNAPSHOT_PROVIDER: { status: 422, closeCode: null, message: "snapshot comes from another cloud provider than the connector's" },
  ARCSIM_E_SNAPSHOT_ACCOUNT: { status: 422, closeCode: null, message: "snapshot comes from another account or project than the connector's" },
  ARCSIM_E_CONNECTOR_UNKNOWN: { status: 404, closeCode: null, message: 'no such connector' },
  ARCSIM_E_CONNECTOR_PROVIDER: { status: 400, closeCode: null, message: 'unknown cloud provider (supported: AWS, GCP)' },
  ARCSIM_E_CONNECTOR_CONFIG: { status: 400, closeCode: null, message: 'connector definition is invalid' },
  ARCSIM_E_PULL_FAILED: { status: 502, closeCode: null, message: 'scheduled pull could not read its command output or file' },
  ARCSIM_E_FINDING_RESOURCE: { status: 422, closeCode: null, message: 'finding names a resource the connector does not know' },
  ARCSIM_E_FINDING_ALERT_TYPE: { status: 422, closeCode: null, message: 'finding alert type has no rule mapping and no display name/severity' },
} as const satisfies Record<string, ErrorSpec>;

export type InventoryErrorCode = keyof typeof INVENTORY_ERRORS;

/** Builds a catalogued inventory error; `path` points into the offending input. */
export function inventoryError(code: InventoryErrorCode, detail?: string, path?: string): ArcsimError {
  return new ArcsimError(code, INVENTORY_ERRORS[code], detail, path);
}
