import { setFlagsFromString } from 'node:v8';
import { parseKql, type SyntaxNode } from './parser.ts';
import { errorAt, QueryError } from './errors.ts';
import { FUNCTIONS, getIn, hasTerm, propertyOf, toDynamic, toDate, type FnContext } from './functions.ts';
import { AGGREGATES, ArgMinMax, isAggregate, type Accumulator } from './aggregates.ts';
import {
  Timespan, compare, equals, isDynamic, keyOf, parseDatetime, parseTimespan, sortCompare, toBool, toText, typeOfValue,
  type Column, type KqlType, type Row, type Value,
} from './values.ts';

/**
 * The KQL evaluator: runs Kusto.Language's syntax tree over rows from a `TableSource`.
 * Tabular operators are evaluated whole (arrays of rows); scalar expressions are compiled once per
 * operator into closures and applied per row.
 */

/** A filter the engine hands to the table source: `column op value`, from the leading `where`s. */
export interface Pushdown {
  column: string;
  op: '==' | '=~' | '!=' | '<' | '<=' | '>' | '>=' | 'in' | 'in~' | 'has' | 'contains' | 'startswith';
  value: Value;
}

/**
 * Where rows come from. `rows` receives the predicates of the `where` operators right after the
 * table that compare a column with a constant; it may apply any of them (for instance in SQL) or
 * none: the engine applies every `where` again, so pushdown only saves work.
 */
export interface TableSource {
  /** The table's columns, or undefined when there is no such table. Names are case-sensitive. */
  schema(name: string): Column[] | undefined;
  /** Every table name (for `union Device*` wildcards). */
  tableNames(): string[];
  rows(name: string, pushdown: Pushdown[]): Promise<Row[]>;
}

export interface RunOptions {
  /** `now()` and `ago()` are relative to this instant. */
  now: Date;
  /** The query fails with ARCSIM_E_QUERY past this many milliseconds. */
  timeoutMs: number;
  /** Rows returned at most; more are cut and the result says `truncated`. */
  maxRows: number;
}

export interface QueryResult {
  columns: Column[];
  rows: Row[];
  truncated: boolean;
  /** The pushdown each table scan received (for tests and `explain`). */
  scans: Array<{ table: string; pushdown: Pushdown[] }>;
}

interface Tab { cols: Column[]; rows: Row[] }

type Binding =
  | { kind: 'scalar'; value: Value }
  | { kind: 'tabular'; value: () => Promise<Tab> }
  | { kind: 'function'; decl: SyntaxNode; scope: Scope };

class Scope {
  private readonly vars = new Map<string, Binding>();
  constructor(readonly parent?: Scope) {}
  get(name: string): Binding | undefined { return this.vars.get(name) ?? this.parent?.get(name); }
  set(name: string, b: Binding): void { this.vars.set(name, b); }
}

type Fn = (row: Row) => Value;

// Queries bring their own regular expressions (`matches regex`, extract, parse kind=regex), and
// JavaScript's backtracking engine can take exponential time on some (`^(a+)+$`), blocking the
// whole control plane, agents' sockets included, where no row-count timeout can reach. Kusto's
// RE2 is linear; V8 has a linear engine too, used from here on for any regular expression of
// this process that backtracks excessively (same matches, bounded time).
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

const ROW_CHECK = 4096;
/** Rows one join, mv-expand or range may produce at most (bounds memory before the timeout would). */
export const MAX_INTERMEDIATE_ROWS = 2_000_000;

/** Parses and runs a query; any fault is a QueryError (ARCSIM_E_QUERY) naming its position. */
export async function runQuery(text: string, source: TableSource, options: RunOptions): Promise<QueryResult> {
  let parsed: ReturnType<typeof parseKql>;
  try {
    parsed = parseKql(text);
  } catch {
    throw errorAt(text, undefined, 'the query is nested too deeply to parse', 'ARCSIM_EVALUATION');
  }
  if (parsed.diagnostics.length > 0) throw new QueryError(parsed.diagnostics);
  const engine = new Engine(text, source, options);
  let tab: Tab;
  try {
    tab = await engine.run(parsed.root);
  } catch (err) {
    if (err instanceof QueryError) throw err;
    // A query arcsim's evaluator did not foresee (or a recursion too deep) is still the query's
    // fault to the caller: a typed error with the message, never a 500.
    const message = err instanceof RangeError ? 'the query is nested too deeply to evaluate' : `arcsim could not evaluate this query: ${(err as Error).message}`;
    throw errorAt(text, undefined, message, 'ARCSIM_EVALUATION');
  }
  const truncated = tab.rows.length > options.maxRows;
  const rows = truncated ? tab.rows.slice(0, options.maxRows) : tab.rows;
  return { columns: finalTypes(tab.cols, rows), rows, truncated, scans: engine.scans };
}

function finalTypes(cols: Column[], rows: Row[]): Column[] {
  return cols.map((c) => {
    if (c.type !== undefined && (c.type as string) !== '') return c;
    for (const r of rows) { const t = typeOfValue(r[c.name] ?? null); if (t) return { name: c.name, type: t }; }
    return { name: c.name, type: 'string' as KqlType };
  });
}

const UNTYPED = '' as KqlType;

class Engine {
  readonly scans: Array<{ table: string; pushdown: Pushdown[] }> = [];
  private readonly deadline: number;
  private ticks = 0;
  private readonly fnCtx: FnContext;
  private readonly root = new Scope();

  constructor(private readonly text: string, private readonly source: TableSource, private readonly options: RunOptions) {
    this.deadline = performance.now() + options.timeoutMs;
    this.fnCtx = { now: options.now };
  }

  private err(node: SyntaxNode | undefined, message: string): QueryError { return errorAt(this.text, node, message); }

  /** Throws when the query has run past its timeout; called every few thousand rows. */
  private tick(n = 1): void {
    this.ticks += n;
    if (this.ticks >= ROW_CHECK) {
      this.ticks = 0;
      if (performance.now() > this.deadline) throw errorAt(this.text, undefined, `the query ran longer than its timeout (${this.options.timeoutMs} ms)`, 'ARCSIM_TIMEOUT');
    }
  }

  private checkTime(): void { this.ticks = ROW_CHECK; this.tick(0); }

  /** Refuses an operator whose output would pass MAX_INTERMEDIATE_ROWS (a join or mv-expand blowing up). */
  private grow(size: number, node: SyntaxNode): void {
    this.tick();
    if (size >= MAX_INTERMEDIATE_ROWS) throw this.err(node, `this operator produces more than ${MAX_INTERMEDIATE_ROWS.toLocaleString('en')} rows; narrow the query (a time filter, fewer join keys)`);
  }

  async run(root: SyntaxNode): Promise<Tab> {
    const statements = (root.Statements as SyntaxNode[] | undefined) ?? [];
    let result: Tab | undefined;
    for (const st of statements) {
      if (st.t === 'LetStatement') await this.let(st, this.root);
      else if (st.t === 'ExpressionStatement') result = await this.tabular(st.Expression as SyntaxNode, this.root);
      else throw this.err(st, `the ${st.t.replace(/Statement$/, '').toLowerCase()} statement is not supported by arcsim`);
    }
    if (!result) throw this.err(root, 'the query has no tabular expression to return');
    return result;
  }

  private async let(st: SyntaxNode, scope: Scope): Promise<void> {
    const name = nameOf(st.Name as SyntaxNode);
    const expr = st.Expression as SyntaxNode;
    if (expr.t === 'FunctionDeclaration') { scope.set(name, { kind: 'function', decl: expr, scope }); return; }
    if (this.isTabular(expr, scope)) {
      let memo: Promise<Tab> | undefined;
      scope.set(name, { kind: 'tabular', value: () => (memo ??= this.tabular(expr, scope)) });
      return;
    }
    const fn = await this.scalar(expr, scope, new Map());
    scope.set(name, { kind: 'scalar', value: fn({}) });
  }

  // ---- tabular expressions ----

  private isTabular(node: SyntaxNode, scope: Scope): boolean {
    switch (node.t) {
      case 'PipeExpression': case 'DataTableExpression': case 'RangeOperator': case 'PrintOperator': case 'UnionOperator':
      case 'ExternalDataExpression': case 'SearchOperator': case 'FindOperator':
        return true;
      case 'ParenthesizedExpression': return this.isTabular(node.Expression as SyntaxNode, scope);
      case 'MaterializeExpression': return true;
      case 'NameReference': {
        const n = nameOf(node);
        const b = scope.get(n);
        if (b) return b.kind === 'tabular' || (b.kind === 'function' && this.functionIsTabular(b));
        return this.source.schema(n) !== undefined;
      }
      case 'FunctionCallExpression': {
        const n = nameOf(node.Name as SyntaxNode);
        if (['materialize', 'table', 'view', 'toscalar'].includes(n)) return n !== 'toscalar';
        const b = scope.get(n);
        return b?.kind === 'function' && this.functionIsTabular(b);
      }
      default: return false;
    }
  }

  private functionIsTabular(b: Extract<Binding, { kind: 'function' }>): boolean {
    const body = b.decl.Body as SyntaxNode;
    const inner = new Scope(b.scope);
    for (const p of params(b.decl)) inner.set(p.name, p.tabular ? { kind: 'tabular', value: async () => ({ cols: [], rows: [] }) } : { kind: 'scalar', value: null });
    return this.isTabular(body.Expression as SyntaxNode, inner);
  }

  private async tabular(node: SyntaxNode, scope: Scope): Promise<Tab> {
    this.checkTime();
    switch (node.t) {
      case 'ParenthesizedExpression': return this.tabular(node.Expression as SyntaxNode, scope);
      case 'MaterializeExpression': return this.tabular(node.Expression as SyntaxNode, scope);
      case 'PipeExpression': return this.pipe(node, scope);
      case 'NameReference': return this.named(node, scope, []);
      case 'DataTableExpression': return this.datatable(node);
      case 'RangeOperator': return this.range(node, scope);
      case 'PrintOperator': return this.print(node, scope);
      case 'UnionOperator': return this.union(node, scope, undefined);
      case 'FunctionCallExpression': return this.callTabular(node, scope, undefined);
      default: throw this.err(node, `${describe(node)} is not supported by arcsim as a tabular expression`);
    }
  }

  private async named(node: SyntaxNode, scope: Scope, pushdown: Pushdown[]): Promise<Tab> {
    const name = nameOf(node);
    const b = scope.get(name);
    if (b?.kind === 'tabular') return b.value();
    if (b?.kind === 'function') return this.invoke(b, [], node, undefined);
    return this.table(name, node, pushdown);
  }

  private async table(name: string, node: SyntaxNode, pushdown: Pushdown[]): Promise<Tab> {
    const cols = this.source.schema(name);
    if (!cols) throw this.err(node, `unknown table or name '${name}' (arcsim's tables: docs/query.md)`);
    this.scans.push({ table: name, pushdown });
    const rows = await this.source.rows(name, pushdown);
    this.checkTime();
    return { cols, rows };
  }

  private async callTabular(node: SyntaxNode, scope: Scope, input: Tab | undefined): Promise<Tab> {
    const name = nameOf(node.Name as SyntaxNode);
    const args = (node.ArgumentList as SyntaxNode).Expressions as SyntaxNode[];
    if (name === 'materialize' || name === 'view') return this.tabular(args[0]!, scope);
    if (name === 'table') {
      const fn = await this.scalar(args[0]!, scope, new Map());
      const t = toText(fn({}));
      const b = scope.get(t);
      if (b?.kind === 'tabular') return b.value();
      return this.table(t, node, []);
    }
    const b = scope.get(name);
    if (b?.kind !== 'function') throw this.err(node, `unknown tabular function '${name}'`);
    return this.invoke(b, args.map((a) => ({ node: a, scope })), node, input);
  }

  /** Calls a let-defined function: scalar arguments evaluated, tabular ones bound lazily. */
  private async invoke(b: Extract<Binding, { kind: 'function' }>, args: Array<{ node: SyntaxNode; scope: Scope }>, at: SyntaxNode, input: Tab | undefined): Promise<Tab> {
    const inner = new Scope(b.scope);
    const ps = params(b.decl);
    let i = 0;
    for (const p of ps) {
      if (input && i === 0 && p.tabular) { const t = input; inner.set(p.name, { kind: 'tabular', value: async () => t }); i++; continue; }
      const arg = args[input ? i - 1 : i];
      i++;
      if (!arg) {
        if (p.default) inner.set(p.name, { kind: 'scalar', value: (await this.scalar(p.default, b.scope, new Map()))({}) });
        else throw this.err(at, `missing argument '${p.name}'`);
        continue;
      }
      if (p.tabular || this.isTabular(arg.node, arg.scope)) {
        let memo: Promise<Tab> | undefined;
        inner.set(p.name, { kind: 'tabular', value: () => (memo ??= this.tabular(arg.node, arg.scope)) });
      } else {
        inner.set(p.name, { kind: 'scalar', value: (await this.scalar(arg.node, arg.scope, new Map()))({}) });
      }
    }
    const body = b.decl.Body as SyntaxNode;
    for (const st of (body.Statements as SyntaxNode[] | undefined) ?? []) if (st.t === 'LetStatement') await this.let(st, inner);
    return this.tabular(body.Expression as SyntaxNode, inner);
  }

  /** A pipeline: the source (with the pushdown its leading `where`s allow), then each operator. */
  private async pipe(node: SyntaxNode, scope: Scope): Promise<Tab> {
    const ops: SyntaxNode[] = [];
    let src: SyntaxNode = node;
    while (src.t === 'PipeExpression') { ops.unshift(src.Operator as SyntaxNode); src = src.Expression as SyntaxNode; }
    let tab: Tab;
    if (src.t === 'NameReference' && !scope.get(nameOf(src)) && this.source.schema(nameOf(src))) {
      const cols = this.source.schema(nameOf(src))!;
      const pushdown: Pushdown[] = [];
      for (const op of ops) {
        if (op.t !== 'FilterOperator') break;
        await this.collectPushdown(op.Condition as SyntaxNode, scope, new Set(cols.map((c) => c.name)), pushdown);
      }
      tab = await this.table(nameOf(src), src, pushdown);
    } else {
      tab = await this.tabular(src, scope);
    }
    for (const op of ops) {
      // Between operators, let the control plane's other work (agent frames, requests) run.
      await new Promise<void>((resolve) => setImmediate(resolve));
      tab = await this.operator(op, tab, scope);
    }
    return tab;
  }

  private async collectPushdown(cond: SyntaxNode, scope: Scope, cols: Set<string>, out: Pushdown[]): Promise<void> {
    if (cond.t === 'ParenthesizedExpression') return this.collectPushdown(cond.Expression as SyntaxNode, scope, cols, out);
    if (cond.k === 'AndExpression') {
      await this.collectPushdown(cond.Left as SyntaxNode, scope, cols, out);
      await this.collectPushdown(cond.Right as SyntaxNode, scope, cols, out);
      return;
    }
    const left = cond.Left as SyntaxNode | undefined;
    if (!left || left.t !== 'NameReference' || !cols.has(nameOf(left)) || scope.get(nameOf(left))) return;
    const op = tokenText(cond.Operator).toLowerCase();
    const right = cond.Right as SyntaxNode;
    const constant = async (n: SyntaxNode): Promise<Value | undefined> => (this.isConstant(n, scope) ? (await this.scalar(n, scope, new Map()))({}) : undefined);
    if (cond.t === 'BinaryExpression' && ['==', '=~', '!=', '<', '<=', '>', '>=', 'has', 'contains', 'startswith'].includes(op)) {
      const v = await constant(right);
      if (v !== undefined) out.push({ column: nameOf(left), op: op as Pushdown['op'], value: v });
    } else if (cond.t === 'InExpression' && (op === 'in' || op === 'in~')) {
      const items = (right.Expressions as SyntaxNode[] | undefined) ?? [];
      if (items.every((i) => this.isConstant(i, scope))) {
        const values: Value[] = [];
        for (const i of items) { const v = await constant(i); values.push(...(Array.isArray(v) ? v : [v ?? null])); }
        out.push({ column: nameOf(left), op: op as Pushdown['op'], value: values });
      }
    } else if (cond.k === 'BetweenExpression') {
      const couple = right;
      const lo = await constant(couple.First as SyntaxNode);
      const hiNode = couple.Second as SyntaxNode;
      const hi = await constant(hiNode);
      if (lo !== undefined && hi !== undefined) {
        out.push({ column: nameOf(left), op: '>=', value: lo });
        out.push({ column: nameOf(left), op: '<=', value: hi instanceof Timespan && lo instanceof Date ? new Date(lo.getTime() + hi.ms) : hi });
      }
    }
  }

  /** True when the expression needs no row (literals, let scalars, now()/ago()/datetime()). */
  private isConstant(n: SyntaxNode, scope: Scope): boolean {
    switch (n.t) {
      case 'LiteralExpression': case 'CompoundStringLiteralExpression': case 'DynamicExpression': return true;
      case 'ParenthesizedExpression': return this.isConstant(n.Expression as SyntaxNode, scope);
      case 'PrefixUnaryExpression': return this.isConstant(n.Expression as SyntaxNode, scope);
      case 'NameReference': return scope.get(nameOf(n))?.kind === 'scalar';
      case 'BinaryExpression': return ['+', '-', '*', '/'].includes(tokenText(n.Operator)) && this.isConstant(n.Left as SyntaxNode, scope) && this.isConstant(n.Right as SyntaxNode, scope);
      case 'FunctionCallExpression': {
        const name = nameOf(n.Name as SyntaxNode);
        if (scope.get(name)) return false;
        const args = (n.ArgumentList as SyntaxNode).Expressions as SyntaxNode[];
        return ['ago', 'now', 'datetime', 'todatetime', 'totimespan', 'startofday', 'startofweek', 'startofmonth', 'tolower', 'toupper', 'strcat', 'tostring', 'pack_array', 'dynamic']
          .includes(name) && args.every((a) => this.isConstant(a, scope));
      }
      default: return false;
    }
  }

  private async operator(op: SyntaxNode, input: Tab, scope: Scope): Promise<Tab> {
    this.checkTime();
    switch (op.t) {
      case 'FilterOperator': return this.where(op, input, scope);
      case 'ProjectOperator': return this.project(op, input, scope, 'project');
      case 'ExtendOperator': return this.project(op, input, scope, 'extend');
      case 'ProjectAwayOperator': return this.projectAway(op, input, false);
      case 'ProjectKeepOperator': return this.projectAway(op, input, true);
      case 'ProjectRenameOperator': return this.projectRename(op, input);
      case 'ProjectReorderOperator': return this.projectReorder(op, input);
      case 'SummarizeOperator': return this.summarize(op, input, scope);
      case 'CountOperator': return { cols: [{ name: 'Count', type: 'long' }], rows: [{ Count: input.rows.length }] };
      case 'DistinctOperator': return this.distinct(op, input, scope);
      case 'SortOperator': return this.sort((op.Expressions as SyntaxNode[]), input, scope);
      case 'TopOperator': {
        const n = await this.constantNumber(op.Expression as SyntaxNode, scope);
        const sorted = await this.sort([op.ByExpression as SyntaxNode], input, scope);
        return { cols: sorted.cols, rows: sorted.rows.slice(0, n) };
      }
      case 'TakeOperator': case 'SampleOperator': {
        const n = await this.constantNumber(op.Expression as SyntaxNode, scope);
        return { cols: input.cols, rows: input.rows.slice(0, n) };
      }
      case 'SerializeOperator': return (op.Expressions as SyntaxNode[] | undefined)?.length ? this.project(op, input, scope, 'extend') : input;
      case 'JoinOperator': return this.join(op, input, scope, false);
      case 'LookupOperator': return this.join(op, input, scope, true);
      case 'UnionOperator': return this.union(op, scope, input);
      case 'MvExpandOperator': return this.mvExpand(op, input, scope);
      case 'ParseOperator': return this.parse(op, input, scope, false);
      case 'ParseWhereOperator': return this.parse(op, input, scope, true);
      case 'AsOperator': {
        const name = nameOf(op.Name as SyntaxNode);
        this.root.set(name, { kind: 'tabular', value: async () => input });
        scope.set(name, { kind: 'tabular', value: async () => input });
        return input;
      }
      case 'PartitionOperator': return this.partition(op, input, scope);
      case 'InvokeOperator': return this.callTabular(op.Function as SyntaxNode, scope, input);
      case 'EvaluateOperator': return this.evaluate(op, input, scope);
      case 'GetSchemaOperator': return { cols: [{ name: 'ColumnName', type: 'string' }, { name: 'ColumnOrdinal', type: 'int' }, { name: 'DataType', type: 'string' }, { name: 'ColumnType', type: 'string' }], rows: input.cols.map((c, i) => ({ ColumnName: c.name, ColumnOrdinal: i, DataType: c.type, ColumnType: c.type })) };
      default: throw this.err(op, `the ${operatorName(op)} operator is not supported by arcsim`);
    }
  }

  private async constantNumber(node: SyntaxNode, scope: Scope): Promise<number> {
    const v = (await this.scalar(node, scope, new Map()))({});
    const n = Number(v);
    if (!Number.isFinite(n)) throw this.err(node, 'expected a number');
    return Math.max(0, Math.trunc(n));
  }

  private async where(op: SyntaxNode, input: Tab, scope: Scope): Promise<Tab> {
    const cond = await this.scalar(op.Condition as SyntaxNode, scope, colMap(input.cols));
    const rows: Row[] = [];
    for (const r of input.rows) { this.tick(); if (toBool(cond(r)) === true) rows.push(r); }
    return { cols: input.cols, rows };
  }

  /** project / extend: each item `name = expr`, a column, or an expression named as Kusto names it. */
  private async project(op: SyntaxNode, input: Tab, scope: Scope, mode: 'project' | 'extend'): Promise<Tab> {
    const items = op.Expressions as SyntaxNode[];
    const outs: Array<{ name: string; fn: Fn; type?: KqlType; spread?: string[] }> = [];
    let cols = colMap(input.cols);
    let auto = 0;
    for (const item of items) {
      if (item.t === 'SimpleNamedExpression') {
        outs.push({ name: declName(item.Name as SyntaxNode), fn: await this.scalar(item.Expression as SyntaxNode, scope, cols), type: typeOfExpr(item.Expression as SyntaxNode, cols) });
      } else if (item.t === 'CompoundNamedExpression') {
        const names = ((item.Names as SyntaxNode).Names as SyntaxNode[]).map(declName);
        const fn = await this.scalar(item.Expression as SyntaxNode, scope, cols);
        outs.push({ name: names[0]!, fn, spread: names });
      } else if (item.t === 'StarExpression') {
        for (const c of input.cols) outs.push({ name: c.name, fn: (r) => r[c.name] ?? null, type: c.type });
      } else {
        const name = exprName(item) ?? `Column${++auto}`;
        outs.push({ name, fn: await this.scalar(item, scope, cols), type: typeOfExpr(item, cols) });
      }
      if (mode === 'extend') cols = new Map([...cols, [outs.at(-1)!.name, { name: outs.at(-1)!.name, type: UNTYPED }]]);
    }
    const outCols: Column[] = mode === 'extend' ? [...input.cols] : [];
    for (const o of outs) {
      for (const n of o.spread ?? [o.name]) {
        const at = outCols.findIndex((c) => c.name === n);
        const col = { name: n, type: o.type ?? UNTYPED };
        if (at >= 0) outCols[at] = col; else outCols.push(col);
      }
    }
    const rows: Row[] = [];
    for (const r of input.rows) {
      this.tick();
      const out: Row = mode === 'extend' ? { ...r } : {};
      for (const o of outs) {
        const v = o.fn(mode === 'extend' ? out : r);
        if (o.spread) { const arr = Array.isArray(v) ? v : []; o.spread.forEach((n, i) => { out[n] = arr[i] ?? null; }); } else out[o.name] = v;
      }
      rows.push(out);
    }
    return { cols: outCols, rows };
  }

  private projectAway(op: SyntaxNode, input: Tab, keep: boolean): Tab {
    const patterns = (op.Expressions as SyntaxNode[]).map((e) => wildcard(e));
    const match = (n: string) => patterns.some((p) => p.test(n));
    const cols = input.cols.filter((c) => match(c.name) === keep);
    return { cols, rows: input.rows.map((r) => pick(r, cols)) };
  }

  private projectRename(op: SyntaxNode, input: Tab): Tab {
    const renames = (op.Expressions as SyntaxNode[]).map((e) => ({ to: declName(e.Name as SyntaxNode), from: nameOf(e.Expression as SyntaxNode) }));
    for (const r of renames) if (!input.cols.some((c) => c.name === r.from)) throw this.err(op, `project-rename: no column '${r.from}'`);
    const cols = input.cols.map((c) => { const r = renames.find((x) => x.from === c.name); return r ? { name: r.to, type: c.type } : c; });
    const rows = input.rows.map((row) => {
      const out: Row = {};
      for (const c of input.cols) { const r = renames.find((x) => x.from === c.name); out[r ? r.to : c.name] = row[c.name] ?? null; }
      return out;
    });
    return { cols, rows };
  }

  private projectReorder(op: SyntaxNode, input: Tab): Tab {
    const first: Column[] = [];
    for (const e of op.Expressions as SyntaxNode[]) {
      const target = e.t === 'OrderedExpression' ? e.Expression as SyntaxNode : e;
      const p = wildcard(target);
      for (const c of input.cols) if (p.test(c.name) && !first.includes(c)) first.push(c);
    }
    return { cols: [...first, ...input.cols.filter((c) => !first.includes(c))], rows: input.rows };
  }

  private async distinct(op: SyntaxNode, input: Tab, scope: Scope): Promise<Tab> {
    const items = op.Expressions as SyntaxNode[];
    const star = items.some((i) => i.t === 'StarExpression');
    const proj = star ? input : await this.project(op, input, scope, 'project');
    const seen = new Set<string>();
    const rows = proj.rows.filter((r) => { const k = proj.cols.map((c) => keyOf(r[c.name] ?? null)).join('\u0001'); if (seen.has(k)) return false; seen.add(k); return true; });
    return { cols: proj.cols, rows };
  }

  private async sort(exprs: SyntaxNode[], input: Tab, scope: Scope): Promise<Tab> {
    const keys: Array<{ fn: Fn; desc: boolean; nullsFirst: boolean }> = [];
    const cols = colMap(input.cols);
    for (const e of exprs) {
      const inner = e.t === 'OrderedExpression' ? e.Expression as SyntaxNode : e;
      const ordering = e.t === 'OrderedExpression' ? e.Ordering as SyntaxNode | null : null;
      const dir = ordering ? tokenText(ordering.AscOrDescKeyword).toLowerCase() : '';
      const desc = dir !== 'asc';
      const nulls = ordering ? tokenText((ordering.NullsClause as SyntaxNode | null)?.FirstOrLastKeyword).toLowerCase() : '';
      // Kusto: nulls last when descending, first when ascending, unless stated.
      const nullsFirst = nulls ? nulls === 'first' : !desc;
      keys.push({ fn: await this.scalar(inner, scope, cols), desc, nullsFirst });
    }
    const decorated = input.rows.map((r) => ({ r, k: keys.map((k) => k.fn(r)) }));
    this.tick(decorated.length);
    decorated.sort((a, b) => {
      for (let i = 0; i < keys.length; i++) {
        const c = sortCompare(a.k[i]!, b.k[i]!, keys[i]!.desc, keys[i]!.nullsFirst);
        if (c !== 0) return c;
      }
      return 0;
    });
    return { cols: input.cols, rows: decorated.map((d) => d.r) };
  }

  private async summarize(op: SyntaxNode, input: Tab, scope: Scope): Promise<Tab> {
    const cols = colMap(input.cols);
    const by = ((op.ByClause as SyntaxNode | null)?.Expressions as SyntaxNode[] | undefined) ?? [];
    const keys: Array<{ name: string; fn: Fn; type?: KqlType }> = [];
    let auto = 0;
    for (const b of by) {
      if (b.t === 'SimpleNamedExpression') keys.push({ name: declName(b.Name as SyntaxNode), fn: await this.scalar(b.Expression as SyntaxNode, scope, cols) });
      else keys.push({ name: exprName(b) ?? `Column${++auto}`, fn: await this.scalar(b, scope, cols), type: typeOfExpr(b, cols) });
    }
    // Each aggregate item: its accumulators (one per aggregate call inside it) and a final expression over them.
    interface AggItem { names: string[]; calls: Array<{ name: string; args: Fn[]; consts: Value[]; star: boolean; node: SyntaxNode }>; final: Fn; argSpread?: string[]; expr: SyntaxNode }
    const isCallOnly = (it: AggItem) => it.calls[0]!.node === it.expr;
    const items: AggItem[] = [];
    for (const a of (op.Aggregates as SyntaxNode[]) ?? []) {
      const named = a.t === 'SimpleNamedExpression';
      const compound = a.t === 'CompoundNamedExpression';
      const expr = named || compound ? a.Expression as SyntaxNode : a;
      const calls: AggItem['calls'] = [];
      const final = await this.scalar(expr, scope, cols, async (call) => {
        const fname = nameOf(call.Name as SyntaxNode).toLowerCase();
        const argNodes = (call.ArgumentList as SyntaxNode).Expressions as SyntaxNode[];
        const args: Fn[] = []; const consts: Value[] = []; let star = false;
        for (const n of argNodes) {
          if (n.t === 'StarExpression') { star = true; continue; }
          args.push(await this.scalar(n, scope, cols));
          consts.push(this.isConstant(n, scope) ? (await this.scalar(n, scope, new Map()))({}) : null);
        }
        const idx = calls.length;
        calls.push({ name: fname, args, consts, star, node: call });
        const key = `\u0000agg${items.length}_${idx}`;
        return (r: Row) => r[key] ?? null;
      });
      let names: string[];
      let argSpread: string[] | undefined;
      const single = calls.length === 1 && calls[0]!.node === expr;
      if (compound) names = ((a.Names as SyntaxNode).Names as SyntaxNode[]).map(declName);
      else if (named) names = [declName(a.Name as SyntaxNode)];
      else names = [aggName(expr, calls[0]?.name)];
      if (single && (calls[0]!.name === 'arg_max' || calls[0]!.name === 'arg_min')) {
        const argNodes = ((expr.ArgumentList as SyntaxNode).Expressions as SyntaxNode[]);
        argSpread = calls[0]!.star ? ['*'] : argNodes.slice(1).map((n, i) => (n.t === 'SimpleNamedExpression' ? declName(n.Name as SyntaxNode) : exprName(n) ?? `Column${i + 1}`));
        const first = argNodes[0]!;
        names = [compound ? names[0]! : named ? names[0]! : first.t === 'SimpleNamedExpression' ? declName(first.Name as SyntaxNode) : exprName(first) ?? `max_${calls[0]!.name}`];
        if (compound) argSpread = ((a.Names as SyntaxNode).Names as SyntaxNode[]).map(declName).slice(1);
      }
      items.push({ names, calls, final, argSpread, expr });
    }
    for (const it of items) for (const c of it.calls) if (!isAggregate(c.name)) throw this.err(c.node, `the aggregation function ${c.name}() is not supported by arcsim`);

    interface Group { keyValues: Value[]; accs: Accumulator[][] }
    const groups = new Map<string, Group>();
    for (const r of input.rows) {
      this.tick();
      const kv = keys.map((k) => k.fn(r));
      const k = kv.map(keyOf).join('\u0001');
      let g = groups.get(k);
      if (!g) { g = { keyValues: kv, accs: items.map((it) => it.calls.map((c) => AGGREGATES[c.name]!(c.consts))) }; groups.set(k, g); }
      items.forEach((it, i) => it.calls.forEach((c, j) => g!.accs[i]![j]!.add(c.args.map((f) => f(r)), r)));
    }
    if (groups.size === 0 && keys.length === 0) groups.set('', { keyValues: [], accs: items.map((it) => it.calls.map((c) => AGGREGATES[c.name]!(c.consts))) });

    const outCols: Column[] = keys.map((k) => ({ name: k.name, type: k.type ?? cols.get(k.name)?.type ?? UNTYPED }));
    const spreadCols = (it: AggItem): string[] => (it.argSpread?.[0] === '*' ? input.cols.map((c) => c.name).filter((n) => !it.names.includes(n) && !keys.some((k) => k.name === n)) : it.argSpread ?? []);
    for (const it of items) {
      const single = it.calls.length === 1 && !it.argSpread ? it.calls[0]!.name : undefined;
      const t: KqlType = single && ['count', 'countif', 'dcount', 'dcountif', 'count_distinct'].includes(single) && it.names.length === 1 && isCallOnly(it) ? 'long' : UNTYPED;
      for (const n of it.names) outCols.push({ name: n, type: t });
      for (const n of spreadCols(it)) if (!outCols.some((c) => c.name === n)) outCols.push({ name: n, type: cols.get(n)?.type ?? UNTYPED });
    }
    const rows: Row[] = [];
    for (const g of groups.values()) {
      const out: Row = {};
      keys.forEach((k, i) => { out[k.name] = g.keyValues[i]!; });
      items.forEach((it, i) => {
        const synthetic: Row = {};
        it.calls.forEach((_, j) => { synthetic[`\u0000agg${i}_${j}`] = g.accs[i]![j]!.result(); });
        out[it.names[0]!] = it.final(synthetic);
        if (it.argSpread) {
          const acc = g.accs[i]![0] as ArgMinMax;
          if (it.argSpread[0] === '*') { const picked = acc.row() ?? {}; for (const n of spreadCols(it)) out[n] = picked[n] ?? null; }
          else { const a = acc.args(); it.argSpread.forEach((n, j) => { out[n] = a[j + 1] ?? null; }); }
        }
      });
      rows.push(out);
    }
    return { cols: outCols, rows };
  }

  private async join(op: SyntaxNode, left: Tab, scope: Scope, lookup: boolean): Promise<Tab> {
    const kindParam = ((op.Parameters as SyntaxNode[] | undefined) ?? []).find((p) => nameOf(p.Name as SyntaxNode).toLowerCase() === 'kind');
    const kind = kindParam ? tokenText((kindParam.Expression as SyntaxNode).Token ?? kindParam.Expression).toLowerCase() : lookup ? 'leftouter' : 'innerunique';
    const right = await this.tabular(op.Expression as SyntaxNode, scope);
    const onClause = ((op.ConditionClause ?? op.LookupClause) as SyntaxNode | null);
    if (!onClause) throw this.err(op, 'join without `on` is not supported by arcsim');
    const pairs: Array<{ l: string; r: string }> = [];
    const collect = (e: SyntaxNode): void => {
      if (e.k === 'AndExpression') { collect(e.Left as SyntaxNode); collect(e.Right as SyntaxNode); return; }
      if (e.t === 'NameReference') { pairs.push({ l: nameOf(e), r: nameOf(e) }); return; }
      if (e.k === 'EqualExpression') {
        const side = (n: SyntaxNode): { side: string; name: string } => {
          if (n.t === 'PathExpression') return { side: nameOf(n.Expression as SyntaxNode).toLowerCase(), name: nameOf(n.Selector as SyntaxNode) };
          return { side: '', name: nameOf(n) };
        };
        const a = side(e.Left as SyntaxNode); const b = side(e.Right as SyntaxNode);
        if (a.side === '$right' || b.side === '$left') pairs.push({ l: b.name, r: a.name }); else pairs.push({ l: a.name, r: b.name });
        return;
      }
      throw this.err(e, 'join conditions other than column equalities (`on a`, `on $left.a == $right.b`) are not supported by arcsim');
    };
    for (const e of (onClause.Expressions as SyntaxNode[])) collect(e);
    for (const p of pairs) {
      if (!left.cols.some((c) => c.name === p.l)) throw this.err(onClause, `join: the left side has no column '${p.l}'`);
      if (!right.cols.some((c) => c.name === p.r)) throw this.err(onClause, `join: the right side has no column '${p.r}'`);
    }
    const lkey = (r: Row) => pairs.map((p) => keyOf(r[p.l] ?? null)).join('\u0001');
    const rkey = (r: Row) => pairs.map((p) => keyOf(r[p.r] ?? null)).join('\u0001');
    let leftRows = left.rows;
    if (kind === 'innerunique') {
      const seen = new Set<string>();
      leftRows = left.rows.filter((r) => { const k = lkey(r); if (seen.has(k)) return false; seen.add(k); return true; });
    }
    const byKey = new Map<string, Row[]>();
    for (const r of right.rows) { this.tick(); const k = rkey(r); const list = byKey.get(k); if (list) list.push(r); else byKey.set(k, [r]); }
    const leftKeys = new Set<string>();
    for (const r of leftRows) leftKeys.add(lkey(r));

    if (['leftsemi', 'leftanti', 'anti', 'leftantisemi'].includes(kind)) {
      const semi = kind === 'leftsemi';
      return { cols: left.cols, rows: left.rows.filter((r) => byKey.has(lkey(r)) === semi) };
    }
    if (['rightsemi', 'rightanti', 'rightantisemi'].includes(kind)) {
      const semi = kind === 'rightsemi';
      return { cols: right.cols, rows: right.rows.filter((r) => leftKeys.has(rkey(r)) === semi) };
    }
    // Right columns whose names the left has get a suffix (DeviceName → DeviceName1); lookup drops the right keys.
    const leftNames = new Set(left.cols.map((c) => c.name));
    const rename = new Map<string, string>();
    const outCols = [...left.cols];
    for (const c of right.cols) {
      if (lookup && pairs.some((p) => p.r === c.name)) continue;
      let n = c.name;
      if (leftNames.has(n) || outCols.some((x) => x.name === n)) { let i = 1; while (leftNames.has(`${c.name}${i}`) || outCols.some((x) => x.name === `${c.name}${i}`)) i++; n = `${c.name}${i}`; }
      rename.set(c.name, n);
      outCols.push({ name: n, type: c.type });
    }
    const merge = (l: Row | undefined, r: Row | undefined): Row => {
      const out: Row = {};
      for (const c of left.cols) out[c.name] = l ? l[c.name] ?? null : null;
      for (const [from, to] of rename) out[to] = r ? r[from] ?? null : null;
      return out;
    };
    const rows: Row[] = [];
    const matchedRight = new Set<Row>();
    for (const l of leftRows) {
      this.tick();
      const matches = byKey.get(lkey(l));
      if (matches && !pairs.some((p) => (l[p.l] ?? null) === null)) {
        for (const r of matches) { this.grow(rows.length, op); rows.push(merge(l, r)); matchedRight.add(r); }
      } else if (kind === 'leftouter' || kind === 'fullouter') rows.push(merge(l, undefined));
    }
    if (kind === 'rightouter' || kind === 'fullouter') for (const r of right.rows) if (!matchedRight.has(r)) rows.push(merge(undefined, r));
    if (!['innerunique', 'inner', 'leftouter', 'rightouter', 'fullouter'].includes(kind)) throw this.err(op, `join kind=${kind} is not a Kusto join kind`);
    return { cols: outCols, rows };
  }

  private async union(op: SyntaxNode, scope: Scope, input: Tab | undefined): Promise<Tab> {
    const paramsOf = (op.Parameters as SyntaxNode[] | undefined) ?? [];
    const param = (n: string) => paramsOf.find((p) => nameOf(p.Name as SyntaxNode).toLowerCase() === n);
    const source = param('withsource');
    const sourceCol = source ? nameOf(source.Expression as SyntaxNode) : undefined;
    const inner = param('kind') ? tokenText((param('kind')!.Expression as SyntaxNode).Token).toLowerCase() === 'inner' : false;
    const parts: Array<{ name: string; tab: Tab }> = [];
    if (input) parts.push({ name: 'union_arg0', tab: input });
    for (const e of op.Expressions as SyntaxNode[]) {
      if (e.t === 'WildcardedName') {
        const p = wildcard(e);
        for (const t of this.source.tableNames().filter((n) => p.test(n))) parts.push({ name: t, tab: await this.table(t, e, []) });
      } else {
        parts.push({ name: e.t === 'NameReference' ? nameOf(e) : `union_arg${parts.length}`, tab: await this.tabular(e, scope) });
      }
    }
    let cols: Column[] = [];
    if (inner) {
      cols = parts[0]?.tab.cols.filter((c) => parts.every((p) => p.tab.cols.some((x) => x.name === c.name))) ?? [];
    } else {
      for (const p of parts) for (const c of p.tab.cols) if (!cols.some((x) => x.name === c.name)) cols.push(c);
    }
    if (sourceCol) cols = [{ name: sourceCol, type: 'string' }, ...cols];
    const rows: Row[] = [];
    for (const p of parts) for (const r of p.tab.rows) { this.tick(); const out = sourceCol ? { [sourceCol]: p.name, ...r } : r; rows.push(inner ? pick(out, cols) : out); }
    return { cols, rows };
  }

  private async mvExpand(op: SyntaxNode, input: Tab, scope: Scope): Promise<Tab> {
    const cols = colMap(input.cols);
    const specs: Array<{ name: string; fn: Fn; to?: string }> = [];
    for (const e of op.Expressions as SyntaxNode[]) {
      let expr = e.Expression as SyntaxNode;
      let name: string;
      if (expr.t === 'SimpleNamedExpression') { name = declName(expr.Name as SyntaxNode); expr = expr.Expression as SyntaxNode; } else name = exprName(expr) ?? `Column${specs.length + 1}`;
      const toType = (e.ToTypeOf as SyntaxNode | null) ? tokenText(((((e.ToTypeOf as SyntaxNode).TypeOf as SyntaxNode).Types as SyntaxNode[])[0]!).Type) : undefined;
      specs.push({ name, fn: await this.scalar(expr, scope, cols), to: toType });
    }
    const paramsOf = (op.Parameters as SyntaxNode[] | undefined) ?? [];
    const idxParam = paramsOf.find((p) => nameOf(p.Name as SyntaxNode).toLowerCase() === 'with_itemindex');
    const indexCol = idxParam ? nameOf(idxParam.Expression as SyntaxNode) : undefined;
    const limitClause = op.LimitClause as SyntaxNode | null;
    const limit = limitClause ? await this.constantNumber(limitClause.Expression as SyntaxNode, scope) : Infinity;
    const outCols = [...input.cols];
    for (const s of specs) {
      const type: KqlType = s.to ? (s.to as KqlType) : 'dynamic';
      const at = outCols.findIndex((c) => c.name === s.name);
      if (at >= 0) outCols[at] = { name: s.name, type }; else outCols.push({ name: s.name, type });
    }
    if (indexCol) outCols.push({ name: indexCol, type: 'long' });
    const rows: Row[] = [];
    for (const r of input.rows) {
      this.tick();
      const lists = specs.map((s) => {
        const v = toDynamic(s.fn(r));
        if (Array.isArray(v)) return v;
        if (isDynamic(v)) return Object.entries(v).map(([k, x]) => ({ [k]: x }));
        return v === null ? [] : [v];
      });
      const n = Math.min(limit, Math.max(0, ...lists.map((l) => l.length)));
      for (let i = 0; i < n; i++) {
        this.grow(rows.length, op);
        const out: Row = { ...r };
        specs.forEach((s, j) => { const v = lists[j]![i] ?? null; out[s.name] = s.to ? convertTo(v, s.to) : v; });
        if (indexCol) out[indexCol] = i;
        rows.push(out);
      }
    }
    return { cols: outCols, rows };
  }

  private async parse(op: SyntaxNode, input: Tab, scope: Scope, whereOnly: boolean): Promise<Tab> {
    const paramsOf = (op.Parameters as SyntaxNode[] | undefined) ?? [];
    const kindParam = paramsOf.find((p) => nameOf(p.Name as SyntaxNode).toLowerCase() === 'kind');
    const kind = kindParam ? tokenText((kindParam.Expression as SyntaxNode).Token).toLowerCase() : 'simple';
    const flagsParam = paramsOf.find((p) => nameOf(p.Name as SyntaxNode).toLowerCase() === 'flags');
    const flags = flagsParam ? literalString(flagsParam.Expression as SyntaxNode).replace(/[^imsU]/g, '').replace('U', '') : '';
    const source = await this.scalar(op.Expression as SyntaxNode, scope, colMap(input.cols));
    const patterns = op.Patterns as SyntaxNode[];
    const columns: Array<{ name: string; type: string }> = [];
    let re = kind === 'regex' ? '' : '^';
    patterns.forEach((p, i) => {
      if (p.t === 'LiteralExpression' || p.t === 'CompoundStringLiteralExpression') {
        const lit = literalString(p);
        re += kind === 'regex' ? lit : escapeRegex(lit);
      } else if (p.t === 'StarExpression') {
        re += '.*?';
      } else {
        const name = p.t === 'NameAndTypeDeclaration' ? declName(p.Name as SyntaxNode) : declName(p);
        const type = p.t === 'NameAndTypeDeclaration' ? tokenText((p.Type as SyntaxNode).Type) : 'string';
        columns.push({ name, type });
        const last = i === patterns.length - 1;
        const body = type === 'int' || type === 'long' ? '-?\\d+' : type === 'real' || type === 'double' ? '-?\\d+(?:\\.\\d+)?' : last ? '.*' : '.*?';
        // Named, so the groups a kind=regex pattern brings of its own do not shift the columns.
        re += `(?<c${columns.length - 1}>${body})`;
      }
    });
    const regex = new RegExp(re, flags.includes('s') ? 's' + flags.replace('s', '') : flags);
    const outCols = [...input.cols];
    for (const c of columns) { const at = outCols.findIndex((x) => x.name === c.name); const col = { name: c.name, type: c.type as KqlType }; if (at >= 0) outCols[at] = col; else outCols.push(col); }
    const rows: Row[] = [];
    for (const r of input.rows) {
      this.tick();
      const m = regex.exec(toText(source(r)));
      if (!m && whereOnly) continue;
      const out: Row = { ...r };
      columns.forEach((c, i) => { out[c.name] = m ? convertTo(m.groups?.[`c${i}`] ?? null, c.type) : c.type === 'string' ? '' : null; });
      rows.push(out);
    }
    return { cols: outCols, rows };
  }

  /** partition by Column (subquery): the subquery's operators run on each group of rows alone. */
  private async partition(op: SyntaxNode, input: Tab, scope: Scope): Promise<Tab> {
    const key = await this.scalar(op.ByExpression as SyntaxNode, scope, colMap(input.cols));
    const operand = op.Operand as SyntaxNode;
    if (operand.t !== 'PartitionSubquery') throw this.err(operand, 'partition with an expression operand is not supported by arcsim; use a (subquery)');
    const ops: SyntaxNode[] = [];
    let q = operand.Subquery as SyntaxNode;
    while (q.t === 'PipeExpression') { ops.unshift(q.Operator as SyntaxNode); q = q.Expression as SyntaxNode; }
    ops.unshift(q);
    const groups = new Map<string, Row[]>();
    for (const r of input.rows) { const k = keyOf(key(r)); const g = groups.get(k); if (g) g.push(r); else groups.set(k, [r]); }
    let cols: Column[] = input.cols;
    const rows: Row[] = [];
    for (const g of groups.values()) {
      let t: Tab = { cols: input.cols, rows: g };
      for (const o of ops) t = await this.operator(o, t, scope);
      cols = t.cols;
      rows.push(...t.rows);
    }
    return { cols, rows };
  }

  private async evaluate(op: SyntaxNode, input: Tab, scope: Scope): Promise<Tab> {
    const call = op.FunctionCall as SyntaxNode;
    const name = nameOf(call.Name as SyntaxNode).toLowerCase();
    if (name !== 'bag_unpack') throw this.err(call, `the ${name} plugin (evaluate ${name}) is not supported by arcsim; evaluate supports bag_unpack`);
    const args = (call.ArgumentList as SyntaxNode).Expressions as SyntaxNode[];
    const column = nameOf(args[0]!);
    const prefix = args[1] ? toText((await this.scalar(args[1], scope, new Map()))({})) : '';
    const keys: string[] = [];
    for (const r of input.rows) {
      const bag = toDynamic(r[column] ?? null);
      if (isDynamic(bag) && !Array.isArray(bag)) for (const k of Object.keys(bag)) if (!keys.includes(prefix + k)) keys.push(prefix + k);
    }
    const base = input.cols.filter((c) => c.name !== column);
    const cols = [...base, ...keys.filter((k) => !base.some((c) => c.name === k)).map((k) => ({ name: k, type: UNTYPED }))];
    const rows = input.rows.map((r) => {
      const out: Row = {};
      for (const c of base) out[c.name] = r[c.name] ?? null;
      const bag = toDynamic(r[column] ?? null);
      for (const k of keys) if (!(k in out)) out[k] = null;
      if (isDynamic(bag) && !Array.isArray(bag)) for (const [k, v] of Object.entries(bag)) out[prefix + k] = v;
      return out;
    });
    return { cols, rows };
  }

  private async datatable(node: SyntaxNode): Promise<Tab> {
    const cols = ((node.Schema as SyntaxNode).Columns as SyntaxNode[]).map((c) => ({ name: declName(c.Name as SyntaxNode), type: tokenText((c.Type as SyntaxNode).Type) as KqlType }));
    const values: Value[] = [];
    for (const v of node.Values as SyntaxNode[]) values.push((await this.scalar(v, this.root, new Map()))({}));
    const rows: Row[] = [];
    for (let i = 0; i + cols.length <= values.length; i += cols.length) {
      const r: Row = {};
      cols.forEach((c, j) => { r[c.name] = convertTo(values[i + j]!, c.type); });
      rows.push(r);
    }
    return { cols, rows };
  }

  private async range(node: SyntaxNode, scope: Scope): Promise<Tab> {
    const name = declName(node.Name as SyntaxNode);
    const from = (await this.scalar(node.From as SyntaxNode, scope, new Map()))({});
    const to = (await this.scalar(node.To as SyntaxNode, scope, new Map()))({});
    const step = (await this.scalar(node.Step as SyntaxNode, scope, new Map()))({});
    const rows: Row[] = [];
    const isTime = from instanceof Date;
    const start = isTime ? (from as Date).getTime() : Number(from);
    const end = to instanceof Date ? to.getTime() : Number(to);
    const inc = step instanceof Timespan ? step.ms : Number(step);
    if (!(inc > 0)) throw this.err(node, 'range: step must be positive');
    for (let v = start; v <= end; v += inc) {
      this.tick();
      this.grow(rows.length, node);
      rows.push({ [name]: isTime ? new Date(v) : v });
    }
    return { cols: [{ name, type: isTime ? 'datetime' : 'long' }], rows };
  }

  private async print(node: SyntaxNode, scope: Scope): Promise<Tab> {
    const out: Row = {};
    const cols: Column[] = [];
    let i = 0;
    for (const e of node.Expressions as SyntaxNode[]) {
      const name = e.t === 'SimpleNamedExpression' ? declName(e.Name as SyntaxNode) : `print_${i}`;
      const expr = e.t === 'SimpleNamedExpression' ? e.Expression as SyntaxNode : e;
      out[name] = (await this.scalar(expr, scope, new Map()))({});
      cols.push({ name, type: UNTYPED });
      i++;
    }
    return { cols, rows: [out] };
  }

  // ---- scalar expressions ----

  /**
   * Compiles a scalar expression against the input's columns. `onAggregate`, given inside
   * summarize, compiles aggregation calls (count(), dcount(x), ...) into reads of their results.
   */
  private async scalar(node: SyntaxNode, scope: Scope, cols: Map<string, Column>, onAggregate?: (call: SyntaxNode) => Promise<Fn>): Promise<Fn> {
    const sub = (n: SyntaxNode) => this.scalar(n, scope, cols, onAggregate);
    switch (node.t) {
      case 'LiteralExpression': case 'CompoundStringLiteralExpression': { const v = literal(node, this.text); return () => v; }
      case 'DynamicExpression': { const v = jsonOf(node.Expression as SyntaxNode, this); return () => v; }
      case 'ParenthesizedExpression': {
        const inner = node.Expression as SyntaxNode;
        if (this.isTabular(inner, scope)) { const v = await this.toScalar(inner, scope); return () => v; }
        return sub(inner);
      }
      case 'NameReference': {
        const name = nameOf(node);
        if (cols.has(name)) return (r) => r[name] ?? null;
        const b = scope.get(name);
        if (b?.kind === 'scalar') { const v = b.value; return () => v; }
        if (b?.kind === 'function') return this.callScalarFunction(b, [], node, scope, cols, onAggregate);
        if (b?.kind === 'tabular') { const v = await this.toScalar(node, scope); return () => v; }
        if (name.startsWith('$')) throw this.err(node, `${name} is only meaningful in a join's on clause`);
        throw this.err(node, `unknown column or name '${name}'`);
      }
      case 'BracketedExpression': return sub(node.Expression as SyntaxNode);
      case 'PathExpression': {
        const target = await sub(node.Expression as SyntaxNode);
        const sel = node.Selector as SyntaxNode;
        const key = sel.t === 'BracketedName' ? literalString(sel.Name as SyntaxNode) : nameOf(sel);
        return (r) => { const v = toDynamic(target(r)); return isDynamic(v) && !Array.isArray(v) ? propertyOf(v, key) : null; };
      }
      case 'ElementExpression': {
        const target = await sub(node.Expression as SyntaxNode);
        const sel = node.Selector as SyntaxNode;
        const key = await sub(sel.t === 'BracketedExpression' ? sel.Expression as SyntaxNode : sel);
        return (r) => getIn(target(r), key(r));
      }
      case 'PrefixUnaryExpression': {
        const e = await sub(node.Expression as SyntaxNode);
        const neg = tokenText(node.Operator) === '-';
        return (r) => { const v = e(r); if (!neg) return v; if (v instanceof Timespan) return new Timespan(-v.ms); return typeof v === 'number' ? -v : null; };
      }
      case 'BinaryExpression': return this.binary(node, sub, cols);
      case 'InExpression': return this.inExpr(node, scope, sub);
      case 'HasAnyExpression': case 'HasAllExpression': {
        const l = await sub(node.Left as SyntaxNode);
        const values = await this.listValues(node.Right as SyntaxNode, scope, sub);
        const all = node.t === 'HasAllExpression';
        return (r) => { const s = toText(l(r)); const vs = values(r).map(toText); return all ? vs.every((v) => hasTerm(s, v)) : vs.some((v) => hasTerm(s, v)); };
      }
      case 'BetweenExpression': {
        const l = await sub(node.Left as SyntaxNode);
        const lo = await sub((node.Right as SyntaxNode).First as SyntaxNode);
        const hi = await sub((node.Right as SyntaxNode).Second as SyntaxNode);
        const not = node.k === 'NotBetweenExpression';
        return (r) => {
          const v = l(r); const a = lo(r); let b = hi(r);
          if (v === null || a === null || b === null) return null;
          if (a instanceof Date && b instanceof Timespan) b = new Date(a.getTime() + b.ms);
          const inside = (compare(v, a) ?? -1) >= 0 && (compare(v, b) ?? 1) <= 0;
          return not ? !inside : inside;
        };
      }
      case 'FunctionCallExpression': return this.call(node, scope, cols, onAggregate);
      case 'ToScalarExpression': {
        const inner = node.Expression as SyntaxNode;
        if (!this.isTabular(inner, scope)) return sub(inner);
        const v = await this.toScalar(inner, scope);
        return () => v;
      }
      case 'PipeExpression': { const v = await this.toScalar(node, scope); return () => v; }
      case 'StarExpression': throw this.err(node, '`*` is not a value here');
      // typeof(string) as an argument (extract_json's result type): the type's name.
      case 'TypeOfLiteralExpression': { const v = tokenText(((node.Types as SyntaxNode[])[0])?.Type); return () => v; }
      default: throw this.err(node, `${describe(node)} is not supported by arcsim`);
    }
  }

  private async toScalar(node: SyntaxNode, scope: Scope): Promise<Value> {
    const t = await this.tabular(node, scope);
    const first = t.rows[0];
    const col = t.cols[0];
    return first && col ? first[col.name] ?? null : null;
  }

  private async listValues(list: SyntaxNode, scope: Scope, sub: (n: SyntaxNode) => Promise<Fn>): Promise<(r: Row) => Value[]> {
    const items = list.t === 'ExpressionList' ? list.Expressions as SyntaxNode[] : [list];
    const parts: Array<Fn | Value[]> = [];
    for (const i of items) {
      if (this.isTabular(i, scope)) {
        const t = await this.tabular(i, scope);
        const col = t.cols[0];
        parts.push(col ? t.rows.map((r) => r[col.name] ?? null) : []);
      } else parts.push(await sub(i));
    }
    return (r) => parts.flatMap((p) => {
      if (Array.isArray(p)) return p;
      const v = toDynamic(p(r));
      return Array.isArray(v) ? v : [v];
    });
  }

  private async inExpr(node: SyntaxNode, scope: Scope, sub: (n: SyntaxNode) => Promise<Fn>): Promise<Fn> {
    const l = await sub(node.Left as SyntaxNode);
    const values = await this.listValues(node.Right as SyntaxNode, scope, sub);
    const op = tokenText(node.Operator).toLowerCase();
    const ci = op.endsWith('~');
    const not = op.startsWith('!');
    let cached: { set: Set<string>; ci: boolean } | undefined;
    const constant = ((node.Right as SyntaxNode).Expressions as SyntaxNode[] | undefined)?.every((i) => this.isConstant(i, scope) || this.isTabular(i, scope));
    return (r) => {
      const v = l(r);
      if (v === null) return not ? true : false;
      let set: Set<string>;
      if (constant && cached) set = cached.set;
      else {
        set = new Set(values(r).map((x) => (ci ? toText(x).toLowerCase() : keyOfLoose(x))));
        if (constant) cached = { set, ci };
      }
      const hit = set.has(ci ? toText(v).toLowerCase() : keyOfLoose(v));
      return not ? !hit : hit;
    };
  }

  private async binary(node: SyntaxNode, sub: (n: SyntaxNode) => Promise<Fn>, cols: Map<string, Column>): Promise<Fn> {
    const op = tokenText(node.Operator).toLowerCase();
    const l = await sub(node.Left as SyntaxNode);
    const r = await sub(node.Right as SyntaxNode);
    const s = (f: (a: string, b: string) => boolean) => (row: Row) => f(toText(l(row)), toText(r(row)));
    switch (op) {
      case 'and': return (row) => { const a = toBool(l(row)); if (a === false) return false; const b = toBool(r(row)); if (b === false) return false; return a === null || b === null ? null : true; };
      case 'or': return (row) => { const a = toBool(l(row)); if (a === true) return true; const b = toBool(r(row)); if (b === true) return true; return a === null || b === null ? null : false; };
      case '==': return (row) => equals(l(row), r(row));
      case '!=': case '<>': return (row) => { const e = equals(l(row), r(row)); return e === null ? null : !e; };
      case '=~': return (row) => { const a = l(row); const b = r(row); return a === null || b === null ? null : toText(a).toLowerCase() === toText(b).toLowerCase(); };
      case '!~': return (row) => { const a = l(row); const b = r(row); return a === null || b === null ? null : toText(a).toLowerCase() !== toText(b).toLowerCase(); };
      case '<': return (row) => { const c = compare(l(row), r(row)); return c === null ? null : c < 0; };
      case '<=': return (row) => { const c = compare(l(row), r(row)); return c === null ? null : c <= 0; };
      case '>': return (row) => { const c = compare(l(row), r(row)); return c === null ? null : c > 0; };
      case '>=': return (row) => { const c = compare(l(row), r(row)); return c === null ? null : c >= 0; };
      case '+': return (row) => arith(l(row), r(row), '+');
      case '-': return (row) => arith(l(row), r(row), '-');
      case '*': return (row) => arith(l(row), r(row), '*');
      case '/': {
        // Kusto divides two integers as integers (5 / 2 is 2, truncated toward zero); arcsim knows
        // an operand is an integer when the expression says so (a long literal, a long column, count()).
        if (numericType(node.Left as SyntaxNode, cols) === 'long' && numericType(node.Right as SyntaxNode, cols) === 'long') {
          return (row) => { const a = l(row); const b = r(row); return typeof a === 'number' && typeof b === 'number' ? (b === 0 ? null : Math.trunc(a / b)) : arith(a, b, '/'); };
        }
        return (row) => arith(l(row), r(row), '/');
      }
      case '%': return (row) => arith(l(row), r(row), '%');
      case 'has': return s((a, b) => hasTerm(a, b));
      case '!has': return s((a, b) => !hasTerm(a, b));
      case 'has_cs': return s((a, b) => hasTerm(a, b, true));
      case '!has_cs': return s((a, b) => !hasTerm(a, b, true));
      case 'hasprefix': return s((a, b) => hasTerm(a, b, false, true));
      case '!hasprefix': return s((a, b) => !hasTerm(a, b, false, true));
      case 'hasprefix_cs': return s((a, b) => hasTerm(a, b, true, true));
      case 'hassuffix': return s((a, b) => hasTerm(a, b, false, false, true));
      case '!hassuffix': return s((a, b) => !hasTerm(a, b, false, false, true));
      case 'hassuffix_cs': return s((a, b) => hasTerm(a, b, true, false, true));
      case 'contains': return s((a, b) => a.toLowerCase().includes(b.toLowerCase()));
      case '!contains': return s((a, b) => !a.toLowerCase().includes(b.toLowerCase()));
      case 'contains_cs': return s((a, b) => a.includes(b));
      case '!contains_cs': return s((a, b) => !a.includes(b));
      case 'startswith': return s((a, b) => a.toLowerCase().startsWith(b.toLowerCase()));
      case '!startswith': return s((a, b) => !a.toLowerCase().startsWith(b.toLowerCase()));
      case 'startswith_cs': return s((a, b) => a.startsWith(b));
      case '!startswith_cs': return s((a, b) => !a.startsWith(b));
      case 'endswith': return s((a, b) => a.toLowerCase().endsWith(b.toLowerCase()));
      case '!endswith': return s((a, b) => !a.toLowerCase().endsWith(b.toLowerCase()));
      case 'endswith_cs': return s((a, b) => a.endsWith(b));
      case '!endswith_cs': return s((a, b) => !a.endsWith(b));
      case 'like': return s((a, b) => likeRegex(b).test(a));
      case 'matches regex': {
        const rightNode = node.Right as SyntaxNode;
        if (rightNode.t === 'LiteralExpression' || rightNode.t === 'CompoundStringLiteralExpression') {
          let re: RegExp;
          try { re = regexOf(toText(r({}))); } catch (e) { throw this.err(rightNode, `not a valid regular expression: ${(e as Error).message}`); }
          return (row) => re.test(toText(l(row)));
        }
        return (row) => { try { return regexOf(toText(r(row))).test(toText(l(row))); } catch { return null; } };
      }
      default: throw this.err(node, `the operator '${op}' is not supported by arcsim`);
    }
  }

  private async call(node: SyntaxNode, scope: Scope, cols: Map<string, Column>, onAggregate?: (call: SyntaxNode) => Promise<Fn>): Promise<Fn> {
    const name = nameOf(node.Name as SyntaxNode);
    const lname = name.toLowerCase();
    const argNodes = (node.ArgumentList as SyntaxNode).Expressions as SyntaxNode[];
    const b = scope.get(name);
    if (b?.kind === 'function') return this.callScalarFunction(b, argNodes, node, scope, cols, onAggregate);
    if (onAggregate && isAggregate(lname)) return onAggregate(node);
    if (isAggregate(lname) && !FUNCTIONS[lname]) throw this.err(node, `${name}() is an aggregation: use it in summarize`);
    const sub = (n: SyntaxNode) => this.scalar(n, scope, cols, onAggregate);
    switch (lname) {
      case 'toscalar': {
        if (!this.isTabular(argNodes[0]!, scope)) return sub(argNodes[0]!);
        const v = await this.toScalar(argNodes[0]!, scope);
        return () => v;
      }
      case 'column_ifexists': {
        const col = literalString(argNodes[0]!);
        if (cols.has(col)) return (r) => r[col] ?? null;
        return sub(argNodes[1]!);
      }
      case 'pack_all': case 'bag_pack_all': return (r) => { const o: Record<string, Value> = {}; for (const c of cols.keys()) o[c] = r[c] ?? null; return o; };
      case 'row_number': { let i = 0; return () => ++i; }
      case 'prev': case 'next': throw this.err(node, `${lname}() (serialized row navigation) is not supported by arcsim`);
      default: break;
    }
    const fn = FUNCTIONS[lname];
    if (!fn) throw this.err(node.Name as SyntaxNode, `unknown or unsupported function ${name}() (arcsim's functions: docs/query.md)`);
    const args: Fn[] = [];
    for (const a of argNodes) args.push(await sub(a));
    const ctx = this.fnCtx;
    const allConstant = argNodes.every((a) => this.isConstant(a, scope)) && !['rand', 'new_guid', 'row_number'].includes(lname);
    if (allConstant) {
      let v: Value;
      try { v = fn(args.map((a) => a({})), ctx); } catch (e) { throw this.err(node, `${name}(): ${(e as Error).message}`); }
      return () => v;
    }
    return (r) => { try { return fn(args.map((a) => a(r)), ctx); } catch { return null; } };
  }

  private async callScalarFunction(b: Extract<Binding, { kind: 'function' }>, argNodes: SyntaxNode[], at: SyntaxNode, scope: Scope, cols: Map<string, Column>, onAggregate?: (call: SyntaxNode) => Promise<Fn>): Promise<Fn> {
    if (this.functionIsTabular(b)) {
      const t = await this.invoke(b, argNodes.map((n) => ({ node: n, scope })), at, undefined);
      const col = t.cols[0];
      const v = t.rows[0] && col ? t.rows[0][col.name] ?? null : null;
      return () => v;
    }
    const ps = params(b.decl);
    const args: Fn[] = [];
    for (const a of argNodes) args.push(await this.scalar(a, scope, cols, onAggregate));
    // The body is compiled once with the parameters as columns of a per-call row.
    const paramCols = new Map(ps.map((p) => [`\u0000p_${p.name}`, { name: p.name, type: UNTYPED }]));
    const inner = new Scope(b.scope);
    const body = b.decl.Body as SyntaxNode;
    for (const st of (body.Statements as SyntaxNode[] | undefined) ?? []) if (st.t === 'LetStatement') await this.let(st, inner);
    const renamed = new Map<string, Column>();
    for (const p of ps) renamed.set(p.name, { name: `\u0000p_${p.name}`, type: UNTYPED });
    const bodyFn = await this.scalar(body.Expression as SyntaxNode, inner, new Map([...paramCols].map(([, c]) => [c.name, c])));
    const defaults: Value[] = [];
    for (const p of ps) defaults.push(p.default ? (await this.scalar(p.default, b.scope, new Map()))({}) : null);
    return (r) => {
      const frame: Row = {};
      ps.forEach((p, i) => { frame[p.name] = args[i] ? args[i]!(r) : defaults[i]!; });
      return bodyFn(frame);
    };
  }
}

// ---- helpers over the syntax tree ----

function tokenText(t: unknown): string {
  return (t as { text?: string } | null)?.text ?? '';
}

/** The name a NameReference / NameDeclaration / TokenName / BracketedName holds. */
export function nameOf(n: SyntaxNode | null | undefined): string {
  if (!n) return '';
  if (n.t === 'Token') return n.text ?? '';
  const inner = n.Name as SyntaxNode | undefined;
  if (n.t === 'BracketedName') return literalString(inner!);
  if (n.t === 'TokenName') return tokenText(inner);
  if (inner) return nameOf(inner);
  return '';
}

function declName(n: SyntaxNode): string { return nameOf(n); }

function params(decl: SyntaxNode): Array<{ name: string; tabular: boolean; default?: SyntaxNode }> {
  const list = ((decl.Parameters as SyntaxNode).Parameters as SyntaxNode[] | undefined) ?? [];
  return list.map((p) => {
    const nt = p.NameAndType as SyntaxNode;
    const type = nt.Type as SyntaxNode;
    return { name: declName(nt.Name as SyntaxNode), tabular: type?.t === 'SchemaTypeExpression', default: (p.DefaultValue as SyntaxNode | null) ?? undefined };
  });
}

function colMap(cols: Column[]): Map<string, Column> { return new Map(cols.map((c) => [c.name, c])); }

function pick(r: Row, cols: Column[]): Row {
  const out: Row = {};
  for (const c of cols) out[c.name] = r[c.name] ?? null;
  return out;
}

/** A column name or `Device*` pattern as a regular expression. */
function wildcard(e: SyntaxNode): RegExp {
  const text = e.t === 'WildcardedName' ? tokenText(e.Pattern) : nameOf(e);
  return new RegExp(`^${text.split('*').map(escapeRegex).join('.*')}$`);
}

function escapeRegex(s: string): string { return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); }

function likeRegex(p: string): RegExp { return new RegExp(`^${p.split('%').map(escapeRegex).join('.*')}$`, 'is'); }

const regexCache = new Map<string, RegExp>();
function regexOf(p: string): RegExp {
  let re = regexCache.get(p);
  if (!re) {
    let src = p; let flags = '';
    if (src.startsWith('(?i)')) { src = src.slice(4); flags = 'i'; }
    re = new RegExp(src, flags);
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(p, re);
  }
  return re;
}

/** `in` compares like `==`: by value and type (keyOf), a number as a number. */
function keyOfLoose(v: Value): string {
  return keyOf(v);
}

function arith(a: Value, b: Value, op: string): Value {
  if (a === null || b === null) return null;
  if (a instanceof Date) {
    if (b instanceof Timespan) return new Date(op === '+' ? a.getTime() + b.ms : op === '-' ? a.getTime() - b.ms : NaN);
    if (b instanceof Date && op === '-') return new Timespan(a.getTime() - b.getTime());
    return null;
  }
  if (a instanceof Timespan) {
    if (b instanceof Date && op === '+') return new Date(b.getTime() + a.ms);
    if (b instanceof Timespan) {
      if (op === '+') return new Timespan(a.ms + b.ms);
      if (op === '-') return new Timespan(a.ms - b.ms);
      if (op === '/') return a.ms / b.ms;
      return null;
    }
    const n = Number(b);
    if (op === '*') return new Timespan(a.ms * n);
    if (op === '/') return new Timespan(a.ms / n);
    return null;
  }
  if (b instanceof Timespan && op === '*') return new Timespan(Number(a) * b.ms);
  const x = typeof a === 'number' ? a : Number(a); const y = typeof b === 'number' ? b : Number(b);
  if (Number.isNaN(x) || Number.isNaN(y)) return null;
  switch (op) {
    case '+': return x + y;
    case '-': return x - y;
    case '*': return x * y;
    // Two integers the syntax shows are divided as integers in binary(); here, as reals.
    case '/': return y === 0 ? (x === 0 ? NaN : x > 0 ? Infinity : -Infinity) : x / y;
    case '%': return y === 0 ? null : x % y;
    default: return null;
  }
}

const LONG_FUNCTIONS = new Set(['count', 'countif', 'dcount', 'dcountif', 'count_distinct', 'strlen', 'array_length', 'toint', 'tolong', 'indexof', 'countof', 'hourofday', 'getyear', 'getmonth', 'dayofmonth', 'dayofyear', 'week_of_year', 'datetime_diff', 'datetime_part', 'row_number']);
const REAL_FUNCTIONS = new Set(['toreal', 'todouble', 'todecimal', 'avg', 'avgif', 'stdev', 'variance', 'sqrt', 'log', 'log10', 'log2', 'exp', 'pow', 'rand']);

/** `long` or `real` when the expression's numeric type is plain from the syntax and the columns; else undefined. */
function numericType(n: SyntaxNode, cols: Map<string, Column>): 'long' | 'real' | undefined {
  switch (n.t) {
    case 'LiteralExpression':
      return n.k === 'LongLiteralExpression' || n.k === 'IntLiteralExpression' ? 'long' : n.k === 'RealLiteralExpression' || n.k === 'DecimalLiteralExpression' ? 'real' : undefined;
    case 'NameReference': {
      const t = cols.get(nameOf(n))?.type;
      return t === 'long' || t === 'int' ? 'long' : t === 'real' || t === 'decimal' ? 'real' : undefined;
    }
    case 'ParenthesizedExpression': case 'PrefixUnaryExpression': return numericType(n.Expression as SyntaxNode, cols);
    case 'BinaryExpression': {
      if (!['+', '-', '*', '/', '%'].includes(tokenText(n.Operator))) return undefined;
      const a = numericType(n.Left as SyntaxNode, cols); const b = numericType(n.Right as SyntaxNode, cols);
      return a === 'real' || b === 'real' ? 'real' : a === 'long' && b === 'long' ? 'long' : undefined;
    }
    case 'FunctionCallExpression': {
      const f = nameOf(n.Name as SyntaxNode).toLowerCase();
      return LONG_FUNCTIONS.has(f) ? 'long' : REAL_FUNCTIONS.has(f) ? 'real' : undefined;
    }
    default: return undefined;
  }
}

/** Converts a value to a declared column type (datatable, parse, mv-expand ... to typeof()). */
function convertTo(v: Value, type: string): Value {
  if (v === null) return type === 'string' ? '' : null;
  switch (type) {
    case 'string': return toText(v);
    case 'int': case 'long': { const n = Number(v); return Number.isNaN(n) ? null : Math.trunc(n); }
    case 'real': case 'double': case 'decimal': { const n = Number(v); return Number.isNaN(n) ? null : n; }
    case 'bool': case 'boolean': return toBool(v);
    case 'datetime': case 'date': return toDate(v);
    case 'timespan': case 'time': return v instanceof Timespan ? v : typeof v === 'string' ? parseTimespan(v) ?? null : null;
    case 'dynamic': return toDynamic(v);
    default: return v;
  }
}

/** The type an expression will have when it is plainly a column or a typed literal (else decided from the values). */
function typeOfExpr(n: SyntaxNode, cols: Map<string, Column>): KqlType | undefined {
  if (n.t === 'NameReference') return cols.get(nameOf(n))?.type;
  if (n.t === 'FunctionCallExpression') {
    const f = nameOf(n.Name as SyntaxNode).toLowerCase();
    const t: Record<string, KqlType> = { tostring: 'string', toint: 'int', tolong: 'long', toreal: 'real', todouble: 'real', todatetime: 'datetime', tobool: 'bool', parse_json: 'dynamic', todynamic: 'dynamic', strcat: 'string', count: 'long', dcount: 'long' };
    return t[f];
  }
  return undefined;
}

/** The name Kusto gives an unnamed expression: a column keeps its name, `a.b` becomes `a_b`, `bin(x, …)` is `x`. */
function exprName(n: SyntaxNode): string | undefined {
  if (n.t === 'NameReference') return nameOf(n);
  if (n.t === 'PathExpression') { const left = exprName(n.Expression as SyntaxNode); const sel = n.Selector as SyntaxNode; return left ? `${left}_${sel.t === 'BracketedName' ? literalString(sel.Name as SyntaxNode) : nameOf(sel)}` : undefined; }
  if (n.t === 'ElementExpression') {
    const left = exprName(n.Expression as SyntaxNode);
    const sel = n.Selector as SyntaxNode;
    const inner = sel.t === 'BracketedExpression' ? sel.Expression as SyntaxNode : sel;
    if (left && inner.t === 'LiteralExpression') return `${left}_${literalString(inner)}`;
    return left;
  }
  if (n.t === 'FunctionCallExpression') {
    const f = nameOf(n.Name as SyntaxNode).toLowerCase();
    const args = (n.ArgumentList as SyntaxNode).Expressions as SyntaxNode[];
    if (['bin', 'floor', 'bin_at', 'tostring', 'tolong', 'toint', 'todatetime', 'toreal', 'todouble', 'tolower', 'toupper', 'tobool', 'todynamic', 'parse_json', 'trim'].includes(f) && args[0]) {
      return exprName(f === 'trim' ? args[1] ?? args[0] : args[0]);
    }
  }
  return undefined;
}

/** Kusto's default column name of an aggregation: count_, dcount_X, sum_X, set_X, list_X, ... */
function aggName(expr: SyntaxNode, fname: string | undefined): string {
  if (expr.t !== 'FunctionCallExpression' || !fname) return 'Column1';
  const args = (expr.ArgumentList as SyntaxNode).Expressions as SyntaxNode[];
  const arg = args[0] ? exprName(args[0]) : undefined;
  const prefix: Record<string, string> = { make_set: 'set', makeset: 'set', make_list: 'list', makelist: 'list', make_bag: 'bag', take_any: 'any', make_set_if: 'set', make_list_if: 'list' };
  const p = prefix[fname] ?? fname;
  if (fname === 'count' || fname === 'countif' || fname === 'dcountif' || fname === 'sumif' || !arg) return `${p}_`;
  if (fname === 'percentile') return `percentile_${arg}_${literalString(args[1]!)}`;
  return `${p}_${arg}`;
}

function describe(n: SyntaxNode): string {
  return n.t.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

function operatorName(op: SyntaxNode): string {
  for (const v of Object.values(op)) {
    if (v && typeof v === 'object' && (v as SyntaxNode).t === 'Token') return tokenText(v);
  }
  return describe(op);
}

/** The text of a string literal (quotes, escapes, verbatim @'' and h'' forms, adjacent literals joined). */
export function literalString(n: SyntaxNode): string {
  if (n.t === 'CompoundStringLiteralExpression') return ((n.Tokens as SyntaxNode[]) ?? []).map((t) => unquote(t.text ?? '')).join('');
  if (n.t === 'Token') return unquote(n.text ?? '');
  if (n.t === 'LiteralExpression') return unquote(tokenText(n.Token));
  return nameOf(n);
}

function unquote(raw: string): string {
  let t = raw;
  if (/^[hH]['"@]/.test(t)) t = t.slice(1);
  if (t.startsWith('```') && t.endsWith('```')) return t.slice(3, -3);
  if (t.startsWith('@')) { const q = t[1]!; return t.slice(2, -1).split(q + q).join(q); }
  const q = t[0];
  if (q !== '"' && q !== "'") return t;
  const body = t.slice(1, -1);
  return body.replace(/\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)/g, (_, e: string) => {
    switch (e[0]) {
      case 'n': return '\n'; case 't': return '\t'; case 'r': return '\r'; case '0': return '\0';
      case 'u': return String.fromCharCode(parseInt(e.slice(1), 16));
      case 'x': return String.fromCharCode(parseInt(e.slice(1), 16));
      default: return e;
    }
  });
}

function literal(n: SyntaxNode, text: string): Value {
  const raw = tokenText(n.Token);
  switch (n.k) {
    case 'StringLiteralExpression': case 'CompoundStringLiteralExpression': return literalString(n);
    case 'LongLiteralExpression': case 'IntLiteralExpression': case 'RealLiteralExpression': case 'DecimalLiteralExpression': {
      const m = /^(?:long|int|real|double|decimal)\s*\((.*)\)$/i.exec(raw);
      const body = m ? m[1]!.trim() : raw;
      if (body === 'null') return null;
      return Number(body.startsWith('0x') ? parseInt(body, 16) : body);
    }
    case 'BooleanLiteralExpression': { const m = /^(?:bool|boolean)\s*\((.*)\)$/i.exec(raw); const b = (m ? m[1]! : raw).trim().toLowerCase(); return b === 'null' ? null : b === 'true'; }
    case 'DateTimeLiteralExpression': {
      const d = parseDatetime(raw);
      if (d === undefined) throw errorAt(text, n, `not a datetime Kusto reads: ${raw}`);
      return d;
    }
    case 'TimespanLiteralExpression': {
      const t = parseTimespan(raw);
      if (t === undefined) throw errorAt(text, n, `not a timespan Kusto reads: ${raw}`);
      return t;
    }
    case 'GuidLiteralExpression': { const m = /^guid\s*\((.*)\)$/i.exec(raw); return (m ? m[1]! : raw).trim().toLowerCase(); }
    case 'NullLiteralExpression': return null;
    case 'TokenLiteralExpression': return raw;
    default: return raw;
  }
}

/** A dynamic(...) literal: JSON objects, arrays and literals. */
function jsonOf(n: SyntaxNode, engine: Engine): Value {
  switch (n.t) {
    case 'JsonObjectExpression': {
      const o: Record<string, Value> = {};
      for (const p of (n.Pairs as SyntaxNode[]) ?? []) o[unquote(tokenText(p.Name))] = jsonOf(p.Value as SyntaxNode, engine);
      return o;
    }
    case 'JsonArrayExpression': return ((n.Values as SyntaxNode[]) ?? []).map((v) => jsonOf(v, engine));
    case 'LiteralExpression': case 'CompoundStringLiteralExpression': return literal(n, '');
    case 'PrefixUnaryExpression': { const v = jsonOf(n.Expression as SyntaxNode, engine); return typeof v === 'number' && tokenText(n.Operator) === '-' ? -v : v; }
    default: return null;
  }
}
