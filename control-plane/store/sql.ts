/**
 * SQL written once for both dialects. Statements use `?` placeholders; the PostgreSQL text (`$1`,
 * `$2`, ...) is derived once, when the statement is defined, never per call. Where the dialects
 * truly differ, a statement is a function of the small `DialectSql` helpers below.
 */
export type Dialect = 'sqlite' | 'postgres';

/** A bound value. Arrays only reach PostgreSQL (unnest/ANY); SQLite statements never take one. */
export type Param = string | number | null | readonly (string | number | null)[];

/** One statement, as each dialect runs it. */
export interface Sql {
  readonly sqlite: string;
  readonly postgres: string;
}

/** The few spots where the dialects spell the same thing differently. */
export interface DialectSql {
  readonly dialect: Dialect;
  greatest(a: string, b: string): string;
  least(a: string, b: string): string;
  /** A parameter compared with a bigint expression that may be ±Infinity (PostgreSQL needs float8). */
  float(param: string): string;
  /**
   * A table expression over a JSON array of objects (one `?` parameter, JSON text), with the
   * given columns; `json` columns come out as JSON (text on SQLite), the others as scalars.
   */
  jsonRows(alias: string, columns: Record<string, 'text' | 'bigint' | 'json'>): string;
  /** A JSON array built from `select`'s rows (`fields`: key -> expression), `[]` when none. */
  jsonArray(fields: Record<string, string>, from: string, orderBy: string): string;
  /** A JSON-typed column read into a JSON value inside jsonArray (SQLite keeps JSON as text). */
  asJson(column: string): string;
  /** `column` is one of the values of a JSON array (one `?` parameter, JSON text). */
  inList(column: string): string;
  /** Row locks for a read-modify-write (SQLite has none; its one connection already serialises). */
  readonly forUpdate: string;
}

const SQLITE: DialectSql = {
  dialect: 'sqlite',
  greatest: (a, b) => `MAX(${a}, ${b})`,
  least: (a, b) => `MIN(${a}, ${b})`,
  float: (p) => p,
  jsonRows: (alias, columns) =>
    `(SELECT ${Object.entries(columns).map(([c, t]) => `value ${t === 'json' ? '->' : '->>'} '$.${c}' AS ${c}`).join(', ')} FROM json_each(?)) AS ${alias}`,
  // ORDER BY inside an aggregate needs SQLite 3.44 (better-sqlite3 12 bundles 3.5x).
  jsonArray: (fields, from, orderBy) =>
    `(SELECT json_group_array(json_object(${pairs(fields)}) ORDER BY ${orderBy}) FROM ${from})`,
  asJson: (c) => `json(${c})`,
  inList: (c) => `${c} IN (SELECT value FROM json_each(?))`,
  forUpdate: '',
};

const POSTGRES: DialectSql = {
  dialect: 'postgres',
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  least: (a, b) => `LEAST(${a}, ${b})`,
  float: (p) => `${p}::float8`,
  jsonRows: (alias, columns) =>
    `json_to_recordset(?::json) AS ${alias}(${Object.entries(columns).map(([c, t]) => `${c} ${t}`).join(', ')})`,
  jsonArray: (fields, from, orderBy) =>
    `COALESCE((SELECT json_agg(json_build_object(${pairs(fields)}) ORDER BY ${orderBy}) FROM ${from}), '[]'::json)`,
  asJson: (c) => c,
  inList: (c) => `${c} IN (SELECT json_array_elements_text(?::json))`,
  forUpdate: 'FOR UPDATE',
};

function pairs(fields: Record<string, string>): string {
  return Object.entries(fields).map(([k, v]) => `'${k}', ${v}`).join(', ');
}

/** `?` -> `$1, $2, ...` (statements here never hold a literal `?`). */
function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/** Defines a statement once: the same text for both, or one built from the dialect helpers. */
export function sql(text: string | ((d: DialectSql) => string)): Sql {
  if (typeof text === 'string') return { sqlite: text, postgres: numbered(text) };
  return { sqlite: text(SQLITE), postgres: numbered(text(POSTGRES)) };
}

/** A statement whose text is entirely different per dialect (each written with `?`). */
export function sqlPer(texts: { sqlite: string; postgres: string }): Sql {
  return { sqlite: texts.sqlite, postgres: numbered(texts.postgres) };
}

/** AND-ed conditions built from optional filters, each with at most one `?`. */
export class Where {
  readonly args: Param[] = [];
  private readonly parts: string[] = [];

  /** Adds `condition` with `value` when the value is given (not undefined, not empty). */
  when(value: string | undefined, condition: string): this {
    if (value) {
      this.parts.push(condition);
      this.args.push(value);
    }
    return this;
  }

  /** Adds `condition` (one `?`: a JSON array, see DialectSql.inList) when `values` has any. */
  whenList(values: readonly string[] | undefined, condition: string): this {
    if (values && values.length) {
      this.parts.push(condition);
      this.args.push(JSON.stringify(values));
    }
    return this;
  }

  /** Adds `condition` with its number `value` when the value is given. */
  whenNumber(value: number | undefined, condition: string): this {
    if (value !== undefined) {
      this.parts.push(condition);
      this.args.push(value);
    }
    return this;
  }

  raw(condition: string): this {
    this.parts.push(condition);
    return this;
  }

  /** `WHERE ...`, or nothing when no filter applied. */
  toString(): string {
    return this.parts.length ? `WHERE ${this.parts.join(' AND ')}` : '';
  }
}
