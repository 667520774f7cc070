export { DetectionEngine, fieldValue, type Occurrence, type DetectionOptions } from './detection-engine.ts';
export { loadRules, loadRulesDir, loadRulesDirs, DEFAULT_RULES_DIR, PRODUCTS, type RuleSet, type AlertMapping, type DetectingProduct } from './rule-loader.ts';
export { SIGMA_FIELDS, LOGSOURCE_TABLES } from './field-mapping.ts';
