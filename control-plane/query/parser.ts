import { createRequire } from 'node:module';

/**
 * KQL parsing with Microsoft's own parser: `@kusto/language-service-next` is Kusto.Language (the
 * C# parser behind Azure Data Explorer, Log Analytics and advanced hunting) compiled to
 * JavaScript by Bridge.NET. Its syntax tree is turned once into plain objects (`SyntaxNode`) named
 * as Kusto.Language names them (class `t`, SyntaxKind `k`, children under their property names),
 * so the evaluator never touches the Bridge runtime.
 *
 * The package defines the globals `Bridge`, `System` and `Kusto` when loaded; it is loaded on the
 * first parse (about 2 s), not at import.
 */

/** A node of the syntax tree. Tokens have `text`; lists are arrays; absent optional children are null. */
export interface SyntaxNode {
  /** Kusto.Language class name without namespace: `PipeExpression`, `FilterOperator`, `Token`, ... */
  t: string;
  /** SyntaxKind name: `AndExpression`, `StringLiteralToken`, ... */
  k: string;
  /** Offset of the first character (after trivia) in the query text. */
  start: number;
  /** Offset just past the last character. */
  end: number;
  text?: string;
  [child: string]: unknown;
}

/** One parser finding, with its place in the query (1-based line and column). */
export interface QueryDiagnostic {
  message: string;
  /** Kusto.Language's diagnostic code (`KS005`) or arcsim's (`ARCSIM_NO_TABLE`). */
  code: string;
  start: number;
  length: number;
  line: number;
  column: number;
}

export interface ParsedQuery {
  root: SyntaxNode;
  diagnostics: QueryDiagnostic[];
}

/* eslint-disable @typescript-eslint/no-explicit-any */
let kusto: any;
let kindNames: Record<number, string> = {};

/** Kusto.Language (loaded on first use). For the editor services in language-service.ts. */
export function kustoLanguage(): any {
  return load();
}

function load(): any {
  if (kusto) return kusto;
  const require = createRequire(import.meta.url);
  require('@kusto/language-service-next/bridge.min.js');
  require('@kusto/language-service-next/Kusto.Language.Bridge.min.js');
  const g = globalThis as any;
  kusto = g.Kusto.Language;
  const kinds = kusto.Syntax.SyntaxKind;
  kindNames = {};
  for (const name of Object.keys(kinds)) if (typeof kinds[name] === 'number') kindNames[kinds[name]] = name;
  return kusto;
}

function convert(n: any): unknown {
  if (!n) return null;
  const cls: string = n.constructor.$$name;
  if (n.IsToken) return { t: 'Token', k: kindNames[n.Kind], text: n.Text, start: n.TextStart, end: n.End };
  if (cls.startsWith('Kusto.Language.Syntax.SyntaxList')) {
    const out: unknown[] = [];
    for (let i = 0; i < n.ChildCount; i++) out.push(convert(n.GetChild(i)));
    return out;
  }
  if (cls.startsWith('Kusto.Language.Syntax.SeparatedElement')) return convert(n.GetChild(0));
  const node: SyntaxNode = { t: cls.replace(/^Kusto\.Language\.Syntax\./, ''), k: kindNames[n.Kind] ?? String(n.Kind), start: n.TextStart, end: n.End };
  for (let i = 0; i < n.ChildCount; i++) node[n.GetName(i)] = convert(n.GetChild(i));
  return node;
}

/** Line and column (1-based) of an offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === '\n') { line++; lineStart = i + 1; }
  }
  return { line, column: offset - lineStart + 1 };
}

function diagnosticsOf(code: any, text: string, shift: number): QueryDiagnostic[] {
  const list = code.GetDiagnostics();
  const out: QueryDiagnostic[] = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    if (String(d.Severity) !== 'Error') continue;
    const start = Math.max(0, d.Start - shift);
    out.push({ message: d.Message, code: d.Code, start, length: d.Length, ...lineColumn(text, start) });
  }
  return out;
}

/** Where the first token is, skipping whitespace and `//` comments. */
function firstTokenOffset(text: string): number {
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) i++;
    else if (text.startsWith('//', i)) { const nl = text.indexOf('\n', i); i = nl < 0 ? text.length : nl + 1; }
    else break;
  }
  return i;
}

const PLACEHOLDER = '__arcsim_no_table ';

/**
 * Parses a query: its syntax tree and every syntax error with its position. A query whose first
 * token is `|` (a pipeline with no table in front, as the Defender for Cloud "Open query" text has
 * been seen) gets a finding of its own, and is parsed again behind a placeholder table so the
 * errors after it are reported too (Kusto.Language stops at the stray `|`).
 */
export function parseKql(text: string): ParsedQuery {
  const K = load();
  const at = firstTokenOffset(text);
  if (text[at] === '|') {
    const shifted = text.slice(0, at) + PLACEHOLDER + text.slice(at);
    const code = K.KustoCode.Parse(shifted);
    const own: QueryDiagnostic = {
      message: 'the query starts with `|`: name a table (or another tabular expression) before the first pipe',
      code: 'ARCSIM_NO_TABLE', start: at, length: 1, ...lineColumn(text, at),
    };
    const rest = diagnosticsOf(code, text, PLACEHOLDER.length).filter((d) => d.start > at);
    return { root: convert(code.Syntax) as SyntaxNode, diagnostics: [own, ...rest] };
  }
  const code = K.KustoCode.Parse(text);
  return { root: convert(code.Syntax) as SyntaxNode, diagnostics: diagnosticsOf(code, text, 0) };
}
