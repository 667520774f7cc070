export { ScenarioSchema, type Scenario, type InputValue } from './schema.ts';
export { parseScenario, validateScenario, loadScenarioFile, loadLibrary, resolveInputs, LIBRARY_DIR } from './loader.ts';
export { planEvents, type PlayOptions, type PlannedEvent } from './player.ts';
export { SCENARIO_ERRORS } from './errors.ts';
