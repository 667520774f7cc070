export { createControlPlane, ControlPlaneConfigSchema, type ControlPlane, type ControlPlaneConfig, type ControlPlaneDeps } from './control-plane.ts';
export { openPostgresStore, openSqliteStore, type Store } from './store/index.ts';
export { toMdcAlert } from './alerts/mdc-alert.ts';
export { AGENT_PATH } from './gateway/gateway.ts';
