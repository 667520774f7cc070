import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { compareDebian, compareRpm, compareSemver, orderOf, rpmvercmp, type Compare } from '../../../control-plane/vulnerabilities/index.ts';

// Issue 17, item 4: installed versions are matched with each ecosystem's own ordering. Expected
// orderings come from the specifications and the tools' own test suites, named per test.

const sign = (n: number) => Math.sign(n);

function assertChain(compare: Compare, chain: string[], what: string): void {
  for (let i = 0; i < chain.length; i++) {
    for (let j = 0; j < chain.length; j++) {
      assert.equal(sign(compare(chain[i]!, chain[j]!)), sign(i - j), `${what}: ${chain[i]} vs ${chain[j]}`);
    }
  }
}

test('Debian: the tilde chain of deb-version(5) (~~ < ~~a < ~ < end < a)', () => {
  assertChain(compareDebian, ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0a'], 'deb-version(5)');
});

test('Debian: epochs win over versions, revisions decide last, digits compare as numbers', () => {
  assert.ok(compareDebian('1:0.1', '2.0') > 0, 'an epoch beats any version without one');
  assert.ok(compareDebian('2.36-9+deb12u3', '2.36-9+deb12u14') < 0, 'deb12u3 < deb12u14 (numeric runs)');
  assert.ok(compareDebian('3.0.11-1~deb12u2', '3.0.11-1') < 0, 'a backport (~) sorts before the release it backports');
  assert.ok(compareDebian('1.0-1', '1.0-2') < 0);
  assert.equal(compareDebian('1.0', '1.0-0'), 0, 'an absent revision equals revision 0 (Debian Policy 5.6.12)');
  assert.equal(compareDebian('0:1.0', '1.0'), 0, 'epoch 0 is the default');
  assert.ok(compareDebian('1.0+b1', '1.0') > 0, 'letters and + after the end sort later');
});

test('Debian: random versions order as dpkg --compare-versions orders them (the real tool as oracle)', (t) => {
  try { execFileSync('dpkg', ['--version'], { stdio: 'ignore' }); } catch { t.skip('dpkg is not installed here'); return; }
  const part = fc.array(fc.constantFrom('0', '1', '2', '9', '10', 'a', 'b', '~', '+', '.'), { minLength: 1, maxLength: 6 }).map((a) => a.join(''));
  const version = fc.tuple(fc.option(fc.constantFrom('0', '1', '2'), { nil: undefined }), fc.constantFrom('1', '2', '10'), part, fc.option(part, { nil: undefined }))
    .map(([epoch, lead, upstream, rev]) => `${epoch !== undefined ? `${epoch}:` : ''}${lead}${upstream}${rev !== undefined ? `-${rev}` : ''}`);
  fc.assert(fc.property(version, version, (a, b) => {
    const ours = sign(compareDebian(a, b));
    const lt = (() => { try { execFileSync('dpkg', ['--compare-versions', a, 'lt', b], { stdio: 'ignore' }); return true; } catch { return false; } })();
    const eq = (() => { try { execFileSync('dpkg', ['--compare-versions', a, 'eq', b], { stdio: 'ignore' }); return true; } catch { return false; } })();
    return ours === (lt ? -1 : eq ? 0 : 1);
  }), { numRuns: 150, seed: 17 });
});

test("RPM: rpmvercmp's own test cases (rpm tests/rpmvercmp.at)", () => {
  const cases: Array<[string, string, number]> = [
    ['1.0', '1.0', 0], ['1.0', '2.0', -1], ['2.0', '1.0', 1], ['2.0.1', '2.0.1', 0], ['2.0', '2.0.1', -1], ['2.0.1', '2.0', 1],
    ['2.0.1a', '2.0.1a', 0], ['2.0.1a', '2.0.1', 1], ['2.0.1', '2.0.1a', -1], ['5.5p1', '5.5p1', 0], ['5.5p1', '5.5p2', -1],
    ['5.5p2', '5.5p1', 1], ['5.5p10', '5.5p10', 0], ['5.5p1', '5.5p10', -1], ['5.5p10', '5.5p1', 1], ['10xyz', '10.1xyz', -1],
    ['10.1xyz', '10xyz', 1], ['xyz10', 'xyz10', 0], ['xyz10', 'xyz10.1', -1], ['xyz10.1', 'xyz10', 1], ['xyz.4', 'xyz.4', 0],
    ['xyz.4', '8', -1], ['8', 'xyz.4', 1], ['xyz.4', '2', -1], ['2', 'xyz.4', 1], ['5.5p2', '5.6p1', -1], ['5.6p1', '5.5p2', 1],
    ['5.6p1', '6.5p1', -1], ['6.5p1', '5.6p1', 1], ['6.0.rc1', '6.0', 1], ['6.0', '6.0.rc1', -1], ['10b2', '10a1', 1], ['10a2', '10b2', -1],
    ['1.0aa', '1.0aa', 0], ['1.0a', '1.0aa', -1], ['1.0aa', '1.0a', 1], ['10.0001', '10.0001', 0], ['10.0001', '10.1', 0],
    ['10.1', '10.0001', 0], ['10.0001', '10.0039', -1], ['10.0039', '10.0001', 1], ['4.999.9', '5.0', -1], ['5.0', '4.999.9', 1],
    ['20101121', '20101121', 0], ['20101121', '20101122', -1], ['20101122', '20101121', 1], ['2_0', '2_0', 0], ['2.0', '2_0', 0],
    ['2_0', '2.0', 0], ['a', 'a', 0], ['a+', 'a+', 0], ['a+', 'a_', 0], ['a_', 'a+', 0], ['+a', '+a', 0], ['+a', '_a', 0], ['_a', '+a', 0],
    ['+_', '+_', 0], ['_+', '+_', 0], ['_+', '_+', 0], ['+', '_', 0], ['_', '+', 0],
    ['1.0~rc1', '1.0~rc1', 0], ['1.0~rc1', '1.0', -1], ['1.0', '1.0~rc1', 1], ['1.0~rc1', '1.0~rc2', -1], ['1.0~rc2', '1.0~rc1', 1],
    ['1.0~rc1~git123', '1.0~rc1~git123', 0], ['1.0~rc1~git123', '1.0~rc1', -1], ['1.0~rc1', '1.0~rc1~git123', 1],
    ['1.0^', '1.0^', 0], ['1.0^', '1.0', 1], ['1.0', '1.0^', -1], ['1.0^git1', '1.0^git1', 0], ['1.0^git1', '1.0', 1],
    ['1.0', '1.0^git1', -1], ['1.0^git1', '1.0^git2', -1], ['1.0^git2', '1.0^git1', 1], ['1.0^git1', '1.01', -1], ['1.01', '1.0^git1', 1],
    ['1.0^20160101', '1.0^20160101', 0], ['1.0^20160101', '1.0.1', -1], ['1.0.1', '1.0^20160101', 1],
    ['1.0~rc1^git1', '1.0~rc1^git1', 0], ['1.0~rc1^git1', '1.0~rc1', 1], ['1.0~rc1', '1.0~rc1^git1', -1],
    ['1.0^git1~pre', '1.0^git1~pre', 0], ['1.0^git1', '1.0^git1~pre', 1], ['1.0^git1~pre', '1.0^git1', -1],
  ];
  for (const [a, b, want] of cases) assert.equal(sign(rpmvercmp(a, b)), want, `rpmvercmp(${a}, ${b})`);
});

test('RPM: EVR order compares epoch, then version, then release', () => {
  assert.ok(compareRpm('1:1.0-1', '2.0-1') > 0);
  assert.ok(compareRpm('1.0-1.el9', '1.0-2.el9') < 0);
  assert.equal(compareRpm('0:1.0-1', '1.0-1'), 0);
});

test('semver: the precedence example of semver 2.0.0 section 11, build metadata ignored', () => {
  assertChain(compareSemver, ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '2.0.0', '2.1.0', '2.1.1'], 'semver 2.0.0');
  assert.equal(compareSemver('1.0.0+build.1', '1.0.0+build.2'), 0);
  assert.throws(() => compareSemver('1.0', '1.0.0'), RangeError, 'not a semantic version: no order is guessed');
});

for (const [name, compare, alphabet] of [
  ['Debian', compareDebian, ['0', '1', '9', '10', 'a', 'z', '~', '+', '.', '-', ':']],
  ['RPM', compareRpm, ['0', '1', '9', '10', 'a', 'z', '~', '^', '.', '_', '-']],
] as const) {
  test(`${name}: a total order on random strings (antisymmetric, transitive, reflexive)`, () => {
    const v = fc.array(fc.constantFrom(...alphabet), { minLength: 1, maxLength: 8 }).map((a) => `1${a.join('')}`);
    fc.assert(fc.property(v, v, v, (a, b, c) => {
      if (compare(a, a) !== 0) return false;
      if (sign(compare(a, b)) !== -sign(compare(b, a))) return false;
      if (compare(a, b) <= 0 && compare(b, c) <= 0 && compare(a, c) > 0) return false;
      return true;
    }), { numRuns: 2000, seed: 17 });
  });
}

test('ecosystems: OSV names map to their order; an unknown ecosystem has none', () => {
  assert.equal(orderOf('Debian:12'), compareDebian);
  assert.equal(orderOf('Ubuntu:22.04'), compareDebian);
  assert.equal(orderOf('Rocky Linux:9'), compareRpm);
  assert.equal(orderOf('npm'), compareSemver);
  assert.equal(orderOf('PyPI'), undefined, 'PEP 440 is not implemented: no match rather than a wrong one');
});
