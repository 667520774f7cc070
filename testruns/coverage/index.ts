export { runCoverage, atomicFilesIn, COVERAGE_DEFAULTS, type CoverageOptions, type CoverageResult, type CoverageTechnique, type CoverageTest } from './coverage.ts';
export { toCoverageLayer, toCoverageMarkdown, toCoverageTable, coverageSummary, COVERAGE_COLORS } from './coverage-reports.ts';
