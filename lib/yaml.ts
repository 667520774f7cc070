import { parseAllDocuments, parseDocument, YAMLParseError, type Document, type LineCounter } from 'yaml';

/** Limits on YAML input, one object with units. */
export const YAML_LIMITS = {
  /**
   * Alias expansions one document may make (count, as the yaml package weighs them: an alias of a
   * collection counts its nodes; `toJS({maxAliasCount})`). A "billion laughs" file nests aliases so a few lines
   * expand to gigabytes; none of arcsim's data files (rules, scenarios, suites, configs) needs many.
   */
  maxAliasCount: 100,
} as const;

/** One parsed YAML document: its node tree, its errors (syntax, or too many aliases) and its value. */
export interface YamlDocument {
  doc: Document.Parsed;
  /** Syntax errors, plus a RESOURCE_EXHAUSTION error when aliases expand past the limit, or BAD_ALIAS for an alias without its anchor. */
  errors: YAMLParseError[];
  /** The document as plain data (undefined when there are errors). */
  value: unknown;
}

function settle(doc: Document.Parsed): YamlDocument {
  if (doc.errors.length) return { doc, errors: doc.errors, value: undefined };
  try {
    return { doc, errors: [], value: doc.toJS({ maxAliasCount: YAML_LIMITS.maxAliasCount }) };
  } catch (err) {
    // yaml throws a bare ReferenceError here, for too many aliases or for an alias whose anchor is
    // never set (`*nope`); callers get it as one more YAML error, so each file kind reports it under
    // its own ARCSIM_E_*_YAML code like any syntax error.
    const at = doc.contents?.range?.[0] ?? 0;
    const message = (err as Error).message;
    const e = /^Unresolved alias/.test(message)
      ? new YAMLParseError([at, at + 1], 'BAD_ALIAS', message)
      : new YAMLParseError([at, at + 1], 'RESOURCE_EXHAUSTION', `too many aliases (at most ${YAML_LIMITS.maxAliasCount} per document): ${message}`);
    return { doc, errors: [e], value: undefined };
  }
}

/**
 * The one YAML reader for arcsim's data files (rules, scenarios, suites, config): parses one
 * document and turns it into data with the alias limit; never throws for bad input.
 */
export function readYaml(text: string): YamlDocument {
  return settle(parseDocument(text));
}

/**
 * As readYaml, for a stream of several documents (`---`), as Sigma rule files may hold;
 * `lineCounter` (optional) maps node offsets to lines afterwards.
 */
export function readYamlAll(text: string, options: { lineCounter?: LineCounter } = {}): YamlDocument[] {
  const docs = parseAllDocuments(text, options.lineCounter ? { lineCounter: options.lineCounter } : {});
  return (Array.isArray(docs) ? docs : [docs as unknown as Document.Parsed]).map((d) => settle(d as Document.Parsed));
}
