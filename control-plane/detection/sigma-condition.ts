import { ANY, needAnd, needOr, type Need } from './literal-need.ts';

/**
 * Sigma `condition` expressions: `and`, `or`, `not`, parentheses, selection names,
 * `N of <pattern>`, `all of <pattern>`, `N of them`, `all of them` (patterns may use `*`).
 * Parsed once at load time into a tree, which is then folded into a predicate over the
 * selections (compileCondition) and into what the condition needs of an event (conditionNeed).
 */
export type ConditionNode =
  | { kind: 'or' | 'and'; parts: ConditionNode[] }
  | { kind: 'not'; inner: ConditionNode }
  | { kind: 'selection'; name: string }
  /** `all of` (count null) or `N of` the selections named. */
  | { kind: 'of'; count: number | null; names: string[] };

type Token = { kind: 'word' | 'lparen' | 'rparen'; text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(\(|\)|[^\s()]+)/y;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < text.length && (m = re.exec(text))) {
    pos = re.lastIndex;
    const t = m[1]!;
    tokens.push({ kind: t === '(' ? 'lparen' : t === ')' ? 'rparen' : 'word', text: t });
  }
  if (text.slice(pos).trim() !== '') throw new Error(`unexpected text "${text.slice(pos)}"`);
  return tokens;
}

/** Parses `condition` against the selection `names`; throws an Error naming what is wrong. */
export function parseCondition(condition: string, names: string[]): ConditionNode {
  if (/\|/.test(condition)) throw new Error('aggregation pipes (`| count()`, `| near`) are legacy Sigma (removed in 2.0); use a correlation rule');
  const tokens = tokenize(condition);
  let i = 0;
  const peek = () => tokens[i];
  const word = (w: string) => peek()?.kind === 'word' && peek()!.text.toLowerCase() === w;

  const matchNames = (pattern: string): string[] => {
    if (pattern === 'them') return names.filter((n) => !n.startsWith('_'));
    const re = new RegExp('^' + pattern.split('*').map(escapeRe).join('.*') + '$');
    const found = names.filter((n) => re.test(n));
    if (found.length === 0) throw new Error(`"${pattern}" matches no selection`);
    return found;
  };

  const parseList = (kind: 'or' | 'and', next: () => ConditionNode): ConditionNode => {
    const parts = [next()];
    while (word(kind)) {
      i++;
      parts.push(next());
    }
    return parts.length === 1 ? parts[0]! : { kind, parts };
  };
  const parseOr = (): ConditionNode => parseList('or', parseAnd);
  const parseAnd = (): ConditionNode => parseList('and', parseNot);
  const parseNot = (): ConditionNode => {
    if (word('not')) {
      i++;
      return { kind: 'not', inner: parseNot() };
    }
    return parseAtom();
  };
  const parseAtom = (): ConditionNode => {
    const t = peek();
    if (!t) throw new Error('condition ends too early');
    if (t.kind === 'lparen') {
      i++;
      const inner = parseOr();
      if (peek()?.kind !== 'rparen') throw new Error('missing ")"');
      i++;
      return inner;
    }
    if (t.kind === 'rparen') throw new Error('unexpected ")"');
    i++;
    const lower = t.text.toLowerCase();
    if ((lower === '1' || lower === 'all' || /^\d+$/.test(lower)) && word('of')) {
      i++;
      const target = peek();
      if (!target || target.kind !== 'word') throw new Error(`"${t.text} of" needs a selection pattern or "them"`);
      i++;
      const group = matchNames(target.text);
      if (lower === 'all') return { kind: 'of', count: null, names: group };
      const n = Number(lower);
      if (n < 1) throw new Error(`"${t.text} of" needs a count of at least 1`);
      return { kind: 'of', count: n, names: group };
    }
    if (['and', 'or', 'not', 'of'].includes(lower)) throw new Error(`unexpected "${t.text}"`);
    if (!names.includes(t.text)) throw new Error(`unknown selection "${t.text}"`);
    return { kind: 'selection', name: t.text };
  };

  const tree = parseOr();
  if (i < tokens.length) throw new Error(`unexpected "${tokens[i]!.text}"`);
  return tree;
}

/**
 * Compiles `condition` straight over the selections' predicates, so matching an event calls them
 * with no name lookups or per-event closures. Throws an Error naming what is wrong.
 */
export function compileCondition<T>(condition: string, selections: Map<string, (x: T) => boolean>): (x: T) => boolean {
  return predicateOf(parseCondition(condition, [...selections.keys()]), selections);
}

function predicateOf<T>(node: ConditionNode, sel: Map<string, (x: T) => boolean>): (x: T) => boolean {
  switch (node.kind) {
    case 'or': {
      const parts = node.parts.map((p) => predicateOf(p, sel));
      return anyOf(parts);
    }
    case 'and': {
      const parts = node.parts.map((p) => predicateOf(p, sel));
      return allOf(parts);
    }
    case 'not': {
      const inner = predicateOf(node.inner, sel);
      return (x) => !inner(x);
    }
    case 'selection':
      return sel.get(node.name)!;
    case 'of': {
      const preds = node.names.map((n) => sel.get(n)!);
      const n = node.count;
      if (n === null) return allOf(preds);
      if (n === 1) return anyOf(preds);
      return (x) => {
        let hits = 0;
        for (let i = 0; i < preds.length; i++) if (preds[i]!(x) && ++hits >= n) return true;
        return false;
      };
    }
  }
}

/**
 * True when one / every predicate holds, short-circuiting: plain loops, since `parts.some((p) =>
 * p(x))` would allocate a closure on every event the rule is evaluated on.
 */
export function anyOf<T>(parts: ReadonlyArray<(x: T) => boolean>): (x: T) => boolean {
  if (parts.length === 1) return parts[0]!;
  return (x) => {
    for (let i = 0; i < parts.length; i++) if (parts[i]!(x)) return true;
    return false;
  };
}

export function allOf<T>(parts: ReadonlyArray<(x: T) => boolean>): (x: T) => boolean {
  if (parts.length === 1) return parts[0]!;
  return (x) => {
    for (let i = 0; i < parts.length; i++) if (!parts[i]!(x)) return false;
    return true;
  };
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * What `condition` needs of an event, from its selections' needs (literal-need.ts): `and` and
 * `all of` need every part's, `or` and `N of` one part's (at least one must hold), `not` nothing.
 */
export function conditionNeed(condition: string, needs: Map<string, Need>): Need {
  return needOf(parseCondition(condition, [...needs.keys()]), needs);
}

function needOf(node: ConditionNode, needs: Map<string, Need>): Need {
  switch (node.kind) {
    case 'or': return needOr(node.parts.map((p) => needOf(p, needs)));
    case 'and': return needAnd(node.parts.map((p) => needOf(p, needs)));
    case 'not': return ANY; // whatever the inner part needs, its negation needs nothing
    case 'selection': return needs.get(node.name)!;
    case 'of': {
      const parts = node.names.map((n) => needs.get(n)!);
      return node.count === null ? needAnd(parts) : needOr(parts);
    }
  }
}
