import { kustoLanguage, lineColumn, type QueryDiagnostic } from './parser.ts';
import { tableSchemas } from './tables.ts';

/**
 * The hunting editor's language services — completion, classification (syntax highlighting) and
 * diagnostics with positions — from Microsoft's Kusto.Language (`@kusto/language-service-next`),
 * analysed against arcsim's own tables, so the editor knows exactly the tables and columns the
 * engine runs. The browser asks over HTTP (`/portal/hunting/...`); nothing of Kusto runs there.
 */

/* eslint-disable @typescript-eslint/no-explicit-any */
let globals: any;

function huntingGlobals(): any {
  if (globals) return globals;
  const K = kustoLanguage();
  const g = globalThis as any;
  const quote = (n: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) ? n : `['${n}']`);
  const tables = tableSchemas().map((t) => new K.Symbols.TableSymbol.$ctor7(t.table, `(${t.columns.map((c) => `${quote(c.name)}:${c.type}`).join(', ')})`, null));
  const db = new K.Symbols.DatabaseSymbol.$ctor3('arcsim', null, g.Bridge.toList(tables), false);
  globals = K.GlobalState.Default.WithDatabase(db);
  return globals;
}

function analyse(text: string): { K: any; code: any; service: any } {
  const K = kustoLanguage();
  const code = K.KustoCode.ParseAndAnalyze(text, huntingGlobals());
  return { K, code, service: new K.Editor.KustoCodeService.ctor(code) };
}

const enumName = (e: any, v: number) => Object.keys(e).find((k) => e[k] === v) ?? String(v);

export interface CompletionItem {
  label: string;
  /** Kusto.Language's CompletionKind name: Column, Table, BuiltInFunction, QueryPrefix, Keyword, ... */
  kind: string;
  /** Text that replaces [from, from + length). */
  insert: string;
}

export interface Completions {
  from: number;
  length: number;
  items: CompletionItem[];
}

/** The completion list at `position` (an offset in `text`), filtered by what is typed there, at most `max` items. */
export function completions(text: string, position: number, max = 100): Completions {
  const { K, service } = analyse(text);
  const info = service.GetCompletionItems(Math.max(0, Math.min(position, text.length)));
  const from: number = info.EditStart;
  const length: number = info.EditLength;
  const typed = text.slice(from, from + length).toLowerCase();
  const items: CompletionItem[] = [];
  for (let i = 0; i < info.Items.Count && items.length < max; i++) {
    const it = info.Items.getItem(i);
    const match = String(it.MatchText ?? it.DisplayText).toLowerCase();
    if (typed && !match.startsWith(typed)) continue;
    items.push({ label: it.DisplayText, kind: enumName(K.Editor.CompletionKind, it.Kind), insert: `${it.BeforeText ?? ''}${it.AfterText ?? ''}` || it.DisplayText });
  }
  return { from, length, items };
}

export interface ClassifiedRange {
  /** ClassificationKind name: Table, Column, QueryOperator, Keyword, StringLiteral, Literal, Function, Comment, ... */
  kind: string;
  start: number;
  length: number;
}

/** The text's ranges by kind, for syntax highlighting. */
export function classify(text: string): ClassifiedRange[] {
  const { K, service } = analyse(text);
  const list = service.GetClassifications(0, text.length, false, true).Classifications;
  const out: ClassifiedRange[] = [];
  for (let i = 0; i < list.Count; i++) {
    const r = list.getItem(i);
    out.push({ kind: enumName(K.Editor.ClassificationKind, r.Kind), start: r.Start, length: r.Length });
  }
  return out;
}

/** Syntax and semantic errors (an unknown table or column, a type mismatch) with their places. */
export function diagnostics(text: string): QueryDiagnostic[] {
  const { code } = analyse(text);
  const list = code.GetDiagnostics();
  const out: QueryDiagnostic[] = [];
  for (let i = 0; i < list.Count; i++) {
    const d = list.getItem(i);
    if (String(d.Severity) !== 'Error') continue;
    out.push({ message: d.Message, code: d.Code, start: d.Start, length: d.Length, ...lineColumn(text, d.Start) });
  }
  return out;
}
