export {
  ScenarioSchema, TACTICS, PLATFORMS, PHASES, INPUT_TYPES, variantPhases,
  type Scenario, type ScenarioInput, type ScenarioStep, type InputValue, type Phase, type Variant,
} from './schema.ts';
export { parseScenario, validateScenario, loadScenarioFile, loadLibrary, libraryFromTexts, resolveInputs, LIBRARY_DIR } from './loader.ts';
export { planEvents, planRun, alignToTimeOfDay, type PlayOptions, type PlannedEvent, type PlayPlan, type PlanFailure } from './player.ts';
export { wrongOsReason } from './platforms.ts';
