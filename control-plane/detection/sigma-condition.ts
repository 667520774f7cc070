import { ANY, needAnd, needOr, type Need } from './literal-need.ts';

/**
 * Sigma `condition` expressions: `and`, `or`, `not`, parentheses, selection names,
 * `N of <pattern>`, `all of <pattern>`, `N of them`, `all of them` (patterns may use `*`).
 * Parsed once at load time into a predicate over the selections' results.
 */
export type ConditionFn = (selections: (name: string) => boolean) => boolean;

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
export function parseCondition(condition: string, names: string[]): ConditionFn {
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

  const parseOr = (): ConditionFn => {
    let left = parseAnd();
    while (word('or')) {
      i++;
      const l = left, r = parseAnd();
      left = (s) => l(s) || r(s);
    }
    return left;
  };
  const parseAnd = (): ConditionFn => {
    let left = parseNot();
    while (word('and')) {
      i++;
      const l = left, r = parseNot();
      left = (s) => l(s) && r(s);
    }
    return left;
  };
  const parseNot = (): ConditionFn => {
    if (word('not')) {
      i++;
      const inner = parseNot();
      return (s) => !inner(s);
    }
    return parseAtom();
  };
  const parseAtom = (): ConditionFn => {
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
      if (lower === 'all') return (s) => group.every((n) => s(n));
      const n = Number(lower);
      if (n < 1) throw new Error(`"${t.text} of" needs a count of at least 1`);
      if (n === 1) return (s) => group.some((name) => s(name));
      return (s) => {
        let hits = 0;
        for (const name of group) if (s(name) && ++hits >= n) return true;
        return false;
      };
    }
    if (['and', 'or', 'not', 'of'].includes(lower)) throw new Error(`unexpected "${t.text}"`);
    if (!names.includes(t.text)) throw new Error(`unknown selection "${t.text}"`);
    const name = t.text;
    return (s) => s(name);
  };

  const fn = parseOr();
  if (i < tokens.length) throw new Error(`unexpected "${tokens[i]!.text}"`);
  return fn;
}

/**
 * Compiles `condition` straight over the selections' predicates, so matching an event calls them
 * with no name lookups or per-event closures.
 */
export function compileCondition<T>(condition: string, selections: Map<string, (x: T) => boolean>): (x: T) => boolean {
  // Parse once with a probe to learn the shape, then build the predicate tree.
  const names = [...selections.keys()];
  parseCondition(condition, names); // validates; throws naming what is wrong
  return buildTree(condition, names, selections);
}

function buildTree<T>(condition: string, names: string[], sel: Map<string, (x: T) => boolean>): (x: T) => boolean {
  const tokens = tokenize(condition);
  let i = 0;
  const word = (w: string) => tokens[i]?.kind === 'word' && tokens[i]!.text.toLowerCase() === w;
  const group = (pattern: string) => {
    if (pattern === 'them') return names.filter((n) => !n.startsWith('_'));
    const re = new RegExp('^' + pattern.split('*').map(escapeRe).join('.*') + '$');
    return names.filter((n) => re.test(n));
  };
  type P = (x: T) => boolean;
  const or = (): P => {
    const parts = [and()];
    while (word('or')) {
      i++;
      parts.push(and());
    }
    return parts.length === 1 ? parts[0]! : (x) => parts.some((p) => p(x));
  };
  const and = (): P => {
    const parts = [not()];
    while (word('and')) {
      i++;
      parts.push(not());
    }
    return parts.length === 1 ? parts[0]! : (x) => parts.every((p) => p(x));
  };
  const not = (): P => {
    if (word('not')) {
      i++;
      const inner = not();
      return (x) => !inner(x);
    }
    return atom();
  };
  const atom = (): P => {
    const t = tokens[i++]!;
    if (t.kind === 'lparen') {
      const inner = or();
      i++;
      return inner;
    }
    const lower = t.text.toLowerCase();
    if ((lower === 'all' || /^\d+$/.test(lower)) && word('of')) {
      i++;
      const preds = group(tokens[i++]!.text).map((n) => sel.get(n)!);
      if (lower === 'all') return (x) => preds.every((p) => p(x));
      const n = Number(lower);
      if (n === 1) return (x) => preds.some((p) => p(x));
      return (x) => {
        let hits = 0;
        for (const p of preds) if (p(x) && ++hits >= n) return true;
        return false;
      };
    }
    return sel.get(t.text)!;
  };
  return or();
}

function escapeRe(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * What `condition` needs of an event, from its selections' needs (literal-need.ts): `and` and
 * `all of` need every part's, `or` and `N of` one part's (at least one must hold), `not` nothing.
 */
export function conditionNeed(condition: string, needs: Map<string, Need>): Need {
  const names = [...needs.keys()];
  const tokens = tokenize(condition);
  let i = 0;
  const word = (w: string) => tokens[i]?.kind === 'word' && tokens[i]!.text.toLowerCase() === w;
  const group = (pattern: string) => {
    if (pattern === 'them') return names.filter((n) => !n.startsWith('_'));
    const re = new RegExp('^' + pattern.split('*').map(escapeRe).join('.*') + '$');
    return names.filter((n) => re.test(n));
  };
  const or = (): Need => {
    const parts = [and()];
    while (word('or')) {
      i++;
      parts.push(and());
    }
    return needOr(parts);
  };
  const and = (): Need => {
    const parts = [not()];
    while (word('and')) {
      i++;
      parts.push(not());
    }
    return needAnd(parts);
  };
  const not = (): Need => {
    if (word('not')) {
      i++;
      not(); // consumed; whatever it needs, its negation needs nothing
      return ANY;
    }
    return atom();
  };
  const atom = (): Need => {
    const t = tokens[i++]!;
    if (t.kind === 'lparen') {
      const inner = or();
      i++;
      return inner;
    }
    const lower = t.text.toLowerCase();
    if ((lower === 'all' || /^\d+$/.test(lower)) && word('of')) {
      i++;
      const parts = group(tokens[i++]!.text).map((n) => needs.get(n)!);
      return lower === 'all' ? needAnd(parts) : needOr(parts);
    }
    return needs.get(t.text)!;
  };
  return or();
}
