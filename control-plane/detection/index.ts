export { DetectionEngine, fieldValue, type Occurrence, type DetectionOptions } from './detection-engine.ts';
export { HitWindows } from './hit-windows.ts';
export { loadRules, loadRulesDir, loadRulesDirs, reportRulesDirs, compileRules, readRuleSources, ruleFilesIn, DEFAULT_RULES_DIR, type RuleResult, type RuleReport, PRODUCTS, type RuleSet, type AlertMapping, type DetectingProduct } from './rule-loader.ts';
export { defaultMapping, parseMappingFile, resolveField, FieldMapping, MAPPING_FILE } from './field-mapping.ts';
export { RuleIndex, osFamilyOf, ruleRunsOn, OS_FAMILIES, type OsFamily, type IndexedRule } from './rule-index.ts';
