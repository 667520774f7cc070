import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { v7 as uuidv7 } from 'uuid';
import { compileRules, reportRulesDirs, RuleIndex, ruleRunsOn, type OsFamily, type RuleSet } from '../../control-plane/detection/index.ts';
import { detectOffline } from '../../control-plane/detection/offline-detect.ts';
import { readRecordedEvents } from '../../scenarios/recorded/index.ts';
import { regexLiteral, regexPieces } from '../../control-plane/detection/sigma-selection.ts';
import { playAtomics } from '../../testruns/coverage/coverage.ts';
import { EventSchema, type SensorEvent } from '../../protocol/index.ts';
import type { AlertRow } from '../../control-plane/store/index.ts';
import { fcParams, runsFor } from '../fuzz/fuzz-support.ts';

/**
 * Issue 13, item 9: the rule index (table, OS family, necessary literal) may only skip rules that
 * cannot match. The reference is the plain engine: every rule of the event's table, for the
 * device's OS family, evaluated on every event.
 */
const OSES: Array<OsFamily | undefined> = [undefined, 'windows', 'linux', 'macos'];

function plainMatches(set: RuleSet, e: SensorEvent, os: OsFamily | undefined): string[] {
  return (set.byTable.get(e.Table) ?? []).filter((r) => ruleRunsOn(r, os) && r.match(e as Record<string, unknown>)).map((r) => r.id);
}

function assertSame(set: RuleSet, events: SensorEvent[]): number {
  const index = new RuleIndex(set.byTable);
  let matches = 0;
  for (const e of events) {
    for (const os of OSES) {
      const plain = plainMatches(set, e, os);
      matches += plain.length;
      assert.deepEqual(index.matching(e, os).map((r) => r.id), plain, `${JSON.stringify(e)} on ${os ?? 'unknown'}`);
    }
  }
  return matches;
}

// --- Generated rules and events, built from one pool of literals -------------------------------

/** Literals rules and events share; some lower-case differently inside a word (İ, Σ), some non-ASCII. */
const POOL = ['powershell', '\\cmd.exe', ' -enc ', '/c', 'İstanbul', 'ΣΑΣ', 'straße', '😀x', 'whoami', 'C:\\Windows\\', 'Admin',
  'nt authority', 'System', 'High', '0x3e7', '999', 'AB12', 'rundll32', '-', 'a.b', 'Σ', 'ß', 'E'];
const FIELDS = ['Image', 'CommandLine', 'ParentImage', 'User', 'Hashes', 'OriginalFileName', 'IntegrityLevel', 'LogonId', 'ProcessId', 'ParentCommandLine'];

const lit = fc.constantFrom(...POOL);
const wild = fc.tuple(fc.constantFrom('', '*', '?'), lit, fc.constantFrom('', '*', '?', '*x*'), fc.constantFrom('', '\\*', '*'))
  .map(([a, b, c, d]) => a + b + c + d);
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** One `field|modifiers: value` entry of a selection map. */
const entry: fc.Arbitrary<[string, unknown]> = fc.oneof(
  fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom('', '|contains', '|startswith', '|endswith', '|cased', '|contains|cased', '|windash|contains', '|neq'), fc.oneof(wild, fc.array(wild, { minLength: 1, maxLength: 3 })))
    .map(([f, m, v]): [string, unknown] => [f + m, v]),
  fc.tuple(fc.constantFrom(...FIELDS), fc.array(lit, { minLength: 2, maxLength: 3 })).map(([f, v]): [string, unknown] => [`${f}|contains|all`, v]),
  fc.tuple(fc.constantFrom(...FIELDS), lit, fc.constantFrom('|re', '|re|i')).map(([f, v, m]): [string, unknown] => [f + m, `${reEscape(v)}.*`]),
  fc.tuple(fc.constantFrom(...FIELDS), lit, fc.constantFrom('|base64offset|contains', '|base64', '|wide|base64offset|contains', '|utf16le|base64offset|contains'))
    .map(([f, v, m]): [string, unknown] => [f + m, v.replace(/[*?\\]/g, '')]),
  fc.tuple(fc.constantFrom(...FIELDS), fc.boolean()).map(([f, b]): [string, unknown] => [`${f}|exists`, b]),
  fc.constantFrom(...FIELDS).map((f): [string, unknown] => [f, null]),
  fc.tuple(fc.constantFrom(...FIELDS), fc.constantFrom(...FIELDS), fc.constantFrom('|fieldref', '|fieldref|contains')).map(([f, g, m]): [string, unknown] => [f + m, g]),
  fc.tuple(fc.constantFrom('ProcessId', 'LogonId'), fc.integer({ min: 0, max: 1200 }), fc.constantFrom('', '|gt', '|lte')).map(([f, n, m]): [string, unknown] => [f + m, n]),
);

const selection: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.array(entry, { minLength: 1, maxLength: 3 }).map((es) => Object.fromEntries(es)) },
  { weight: 1, arbitrary: fc.array(fc.array(entry, { minLength: 1, maxLength: 2 }).map((es) => Object.fromEntries(es)), { minLength: 2, maxLength: 3 }) },
  { weight: 1, arbitrary: fc.array(lit, { minLength: 1, maxLength: 2 }) }, // keywords: any column
);

/** A condition over sel0..sel(n-1): names, not, and, or, parentheses, `1 of`, `all of`, `N of them`. */
function condition(n: number): fc.Arbitrary<string> {
  const name = fc.integer({ min: 0, max: n - 1 }).map((i) => `sel${i}`);
  const { expr } = fc.letrec((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      name,
      fc.constantFrom('1 of sel*', 'all of sel*', '2 of them', 'all of them'),
      tie('expr').map((x) => `not ${x as string}`),
      fc.tuple(tie('expr'), fc.constantFrom('and', 'or'), tie('expr')).map(([a, op, b]) => `(${a as string} ${op} ${b as string})`),
    ),
  }));
  return expr as fc.Arbitrary<string>;
}

const rule = fc.integer({ min: 1, max: 3 }).chain((n) => fc.record({
  sels: fc.array(selection, { minLength: n, maxLength: n }),
  condition: condition(n),
  product: fc.constantFrom(undefined, 'windows', 'linux', 'macos', 'azure'),
}));

/** A field value made of pool literals, in any case, possibly encoded as a rule's encodings would find it. */
const value: fc.Arbitrary<string> = fc.tuple(fc.array(lit, { minLength: 1, maxLength: 3 }), fc.constantFrom('none', 'upper', 'lower', 'title'), fc.constantFrom('plain', 'plain', 'plain', 'b64', 'b64wide', 'dash'), fc.integer({ min: 0, max: 2 }))
  .map(([parts, casing, enc, offset]) => {
    let s = parts.join(['', ' ', '\\'][offset]!);
    if (casing === 'upper') s = s.toUpperCase();
    if (casing === 'lower') s = s.toLowerCase();
    if (casing === 'title') s = s.charAt(0).toUpperCase() + s.slice(1);
    if (enc === 'b64') s = 'x ' + Buffer.from(' '.repeat(offset) + s).toString('base64') + ' y';
    if (enc === 'b64wide') s = Buffer.from(' '.repeat(offset) + s, 'utf16le').toString('base64');
    if (enc === 'dash') s = s.replace(/-/g, '/');
    return s;
  });

const COLUMNS = ['FolderPath', 'ProcessCommandLine', 'InitiatingProcessFolderPath', 'InitiatingProcessCommandLine', 'AccountDomain', 'AccountName',
  'SHA1', 'MD5', 'ProcessVersionInfoOriginalFileName', 'ProcessIntegrityLevel'];
const processEvent: fc.Arbitrary<SensorEvent> = fc.tuple(
  fc.array(fc.tuple(fc.constantFrom(...COLUMNS), value), { maxLength: 8 }),
  fc.option(fc.integer({ min: 0, max: 1200 }), { nil: undefined }),
  fc.option(fc.integer({ min: 0, max: 1200 }), { nil: undefined }),
).map(([cols, logonId, pid]) => ({
  Table: 'DeviceProcessEvents', Timestamp: '2026-03-01T10:00:00.000Z', DeviceId: 'dev-1', DeviceName: 'ws-01', ReportId: '0195f000-0000-7000-8000-000000000000',
  ActionType: 'ProcessCreated', ...Object.fromEntries(cols), ...(logonId === undefined ? {} : { LogonId: logonId }), ...(pid === undefined ? {} : { ProcessId: pid }),
}) as unknown as SensorEvent);

test('property: the indexed engine matches exactly what every rule on every event matches (generated rules and events)', () => {
  let loaded = 0;
  let matched = 0;
  fc.assert(fc.property(fc.array(rule, { minLength: 1, maxLength: 8 }), fc.array(processEvent, { minLength: 1, maxLength: 12 }), (rules, events) => {
    const sources = rules.map((r, i) => ({
      file: `gen-${i}.yml`,
      // JSON is YAML: the generated rule as a Sigma document.
      text: JSON.stringify({
        title: `generated ${i}`, logsource: { category: 'process_creation', ...(r.product ? { product: r.product } : {}) },
        detection: { ...Object.fromEntries(r.sels.map((s, j) => [`sel${j}`, s])), condition: r.condition },
      }),
    }));
    const { set } = compileRules(sources);
    loaded += set.detections.length;
    matched += assertSame(set, events);
  }), fcParams(runsFor(300), 913));
  // The generator must exercise the index: rules load and some events match.
  assert.ok(loaded > 500, `${loaded} generated rules loaded`);
  assert.ok(matched > 50, `${matched} matches`);
});

test('property: the same on network events, where ParentImage falls back to the parent\'s file name column', () => {
  const names = ['cmd.exe', 'powershell.exe', 'İ.exe', 'K.exe', 'rundll32.exe'];
  const ruleArb = fc.tuple(fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 2 }), fc.constantFrom('|endswith', '|contains', ''), fc.boolean(), fc.constantFrom(undefined, 'windows', 'linux'))
    .map(([vals, mod, negate, product]) => ({ vals, mod, negate, product }));
  const path = fc.tuple(fc.constantFrom('C:\\Windows\\', '/usr/bin/', '', 'D:\\x\\'), fc.constantFrom(...names, 'other.exe'), fc.constantFrom('toUpperCase', 'toLowerCase', 'toString')).map(([d, n, f]) => (d + n)[f]());
  const networkEvent = fc.tuple(fc.option(path, { nil: undefined }), fc.option(path, { nil: undefined })).map(([full, name]) => ({
    Table: 'DeviceNetworkEvents', Timestamp: '2026-03-01T10:00:00.000Z', DeviceId: 'dev-1', DeviceName: 'ws-01', ReportId: '0195f000-0000-7000-8000-000000000000',
    ActionType: 'ConnectionSuccess', ...(full === undefined ? {} : { AdditionalFields: { ParentImage: full } }), ...(name === undefined ? {} : { InitiatingProcessParentFileName: name }),
  }) as unknown as SensorEvent);
  let matched = 0;
  fc.assert(fc.property(fc.array(ruleArb, { minLength: 1, maxLength: 4 }), fc.array(networkEvent, { minLength: 1, maxLength: 10 }), (rules, events) => {
    const { set } = compileRules(rules.map((r, i) => ({
      file: `net-${i}.yml`,
      text: JSON.stringify({
        title: `net ${i}`, logsource: { category: 'network_connection', ...(r.product ? { product: r.product } : {}) },
        detection: { sel: { [`ParentImage${r.mod}`]: r.vals.map((v) => (r.mod === '|endswith' ? `\\${v}` : v)) }, condition: r.negate ? 'not sel' : 'sel' },
      }),
    })));
    matched += assertSame(set, events);
  }), fcParams(runsFor(300), 915));
  assert.ok(matched > 50, `${matched} matches`);
});

/**
 * Issue 13, item 9 (fourth round): the automaton works out its DFA transitions lazily from the
 * failure links. Literals over a four-letter alphabet overlap in every way (one a suffix, prefix
 * or infix of another), so scans follow long failure chains and report literals found through
 * them; `contains` lists of such literals must match as every rule evaluated alone does.
 */
test('property: contains lists of overlapping literals over a small alphabet (failure links, outputs found through them)', () => {
  const word = (max: number) => fc.array(fc.constantFrom('a', 'b', 'A', '-'), { minLength: 1, maxLength: max }).map((c) => c.join(''));
  let matched = 0;
  fc.assert(fc.property(fc.array(fc.array(word(5), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }), fc.array(word(24), { minLength: 1, maxLength: 8 }), (lists, texts) => {
    const { set } = compileRules(lists.map((vals, i) => ({
      file: `small-${i}.yml`,
      text: JSON.stringify({ title: `small ${i}`, logsource: { category: 'process_creation' }, detection: { sel: { 'CommandLine|contains': vals }, condition: 'sel' } }),
    })));
    const events = texts.map((t) => ({
      Table: 'DeviceProcessEvents', Timestamp: '2026-03-01T10:00:00.000Z', DeviceId: 'dev-1', DeviceName: 'ws-01', ReportId: '0195f000-0000-7000-8000-000000000000',
      ActionType: 'ProcessCreated', ProcessCommandLine: t,
    }) as unknown as SensorEvent);
    matched += assertSame(set, events);
  }), fcParams(runsFor(300), 916));
  assert.ok(matched > 200, `${matched} matches`);
});

test('an automaton of more than 65,535 nodes (32-bit table): every literal is found, and only where it occurs', () => {
  // 2,600 literals of 30 characters that share no prefix past their first 3: ~75,000 nodes.
  const lits = Array.from({ length: 2600 }, (_, i) => `${i.toString(36).padStart(3, '0')}-${'x'.repeat(i % 7)}${(i * 7919).toString(16).padStart(26 - (i % 7), 'q')}`);
  const { set } = compileRules(lits.map((l, i) => ({
    file: `big-${i}.yml`,
    text: JSON.stringify({ title: `big ${i}`, id: `5d2f7c1e-7d0e-4c55-9d7a-${i.toString().padStart(12, '0')}`, logsource: { category: 'process_creation' }, detection: { sel: { 'CommandLine|contains': l }, condition: 'sel' } }),
  })));
  assert.equal(set.detections.length, lits.length);
  const at = (i: number, text: string) => ({
    Table: 'DeviceProcessEvents', Timestamp: '2026-03-01T10:00:00.000Z', DeviceId: 'dev-1', DeviceName: 'ws-01', ReportId: `0195f000-0000-7000-8000-${i.toString().padStart(12, '0')}`,
    ActionType: 'ProcessCreated', ProcessCommandLine: text,
  }) as unknown as SensorEvent;
  const index = new RuleIndex(set.byTable);
  for (const i of [0, 1, 6, 7, 1299, 2598, 2599]) {
    assert.deepEqual(index.matching(at(i, `cmd /c ${lits[i]!.toUpperCase()} && echo`), 'windows').map((r) => r.title), [`big ${i}`]);
    // The literal less its last character: a path deep in the trie, and no match.
    assert.deepEqual(index.matching(at(i, `cmd /c ${lits[i]!.slice(0, -1)}`), 'windows'), []);
  }
  assert.deepEqual(index.matching(at(9, `${lits[3]} ${lits[2500]}`), undefined).map((r) => r.title), ['big 3', 'big 2500']);
});

test('property: the literal derived from a regular expression occurs (lower-cased) in every text it matches', () => {
  const atom = fc.constantFrom('a', 'B', 'c', '-', '/', '\\+', '\\{', '\\.', '\\$', '`', '.', '\\w', '\\d', '\\s', '[a-c]', '[^x]', '(?:ab|c)', '(b)', '(?=a)', 'Σ', 'K', 'ſ');
  const quant = fc.constantFrom('', '', '', '*', '+', '?', '{0,2}', '{2}', '+?', '*?');
  const regex = fc.tuple(fc.array(fc.tuple(atom, quant).map(([a, q]) => a + q), { minLength: 1, maxLength: 8 }), fc.boolean(), fc.constantFrom('', 'i', 'm', 's', 'is'))
    .map(([parts, alt, flags]) => ({ source: parts.join('') + (alt ? '|zz' : ''), flags }));
  const text = fc.array(fc.constantFrom('a', 'A', 'b', 'B', 'c', 'C', '-', '/', '+', '{', '.', '$', '`', ' ', '1', 'x', 'Σ', 'K', 'ſ', 'k', 'z'), { maxLength: 16 }).map((c) => c.join(''));
  let withLiteral = 0;
  fc.assert(fc.property(regex, fc.array(text, { minLength: 1, maxLength: 8 }), ({ source, flags }, texts) => {
    let re: RegExp;
    try {
      re = new RegExp(source, flags);
    } catch {
      return; // not a valid JavaScript regular expression: the loader refuses it
    }
    const lit = regexLiteral(re.source);
    if (lit === undefined) return;
    withLiteral++;
    for (const t of texts) if (re.test(t)) assert.ok(t.toLowerCase().includes(lit), `/${source}/${flags} matches ${JSON.stringify(t)} without "${lit}"`);
  }), fcParams(runsFor(2000), 914));
  assert.ok(withLiteral > 500, `${withLiteral} regular expressions with a literal`);
});

/** Issue 13, item 9 (fourth round): a regex of pieces and `.*` runs only when its pieces occur in order; that must be necessary. */
test('property: the pieces of a regular expression of pieces and .* occur in order in every text it matches', () => {
  const piece = fc.array(fc.constantFrom('a', 'B', '\\+', '\\{', '-', 'K', 'Σ', 'ſ'), { minLength: 1, maxLength: 2 }).map((c) => c.join(''));
  const regex = fc.tuple(fc.array(piece, { minLength: 2, maxLength: 3 }), fc.constantFrom('', 'i', 'm', 's', 'is'), fc.boolean())
    .map(([parts, flags, trail]) => ({ source: parts.join('.*') + (trail ? '.*' : ''), flags }));
  const text = fc.array(fc.constantFrom('a', 'A', 'b', 'B', '+', '{', '-', '\n', 'K', 'k', 'K', 'Σ', 'σ', 'ſ', 'S'), { maxLength: 40 }).map((c) => c.join(''));
  let matched = 0;
  fc.assert(fc.property(regex, fc.array(text, { minLength: 1, maxLength: 8 }), ({ source, flags }, texts) => {
    const re = new RegExp(source, flags);
    const chain = regexPieces(re.source, re.flags);
    if (!chain) return;
    for (const t of texts) {
      if (!re.test(t)) continue;
      matched++;
      let at = 0;
      const s = chain.fold ? t.toLowerCase() : t;
      for (const p of chain.pieces) {
        const i = s.indexOf(p, at);
        assert.ok(i >= 0, `/${source}/${flags} matches ${JSON.stringify(t)}, but ${JSON.stringify(chain.pieces)} are not there in order`);
        at = i + p.length;
      }
    }
  }), fcParams(runsFor(2000), 917));
  assert.ok(matched > 50, `${matched} matches`);
  assert.deepEqual(regexPieces('\\+.*\\+.*\\+', ''), { pieces: ['+', '+', '+'], fold: false });
  assert.equal(regexPieces('a.*b\\d', ''), undefined);
});

// --- Real SigmaHQ rules and recorded events -----------------------------------------------------

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

test('real SigmaHQ rules (pinned sample) on recorded and Atomic events: the index gives the same matches as every rule', () => {
  const { set } = reportRulesDirs([join(FIXTURES, 'sigmahq')]);
  assert.ok(set.detections.length >= 25, `${set.detections.length} rules`);
  const recorded = readdirSync(join(FIXTURES, 'recorded')).filter((f) => f.endsWith('.json'))
    .flatMap((f) => readRecordedEvents(readFileSync(join(FIXTURES, 'recorded', f), 'utf8'), 'evtx-json', f).events);
  assert.ok(recorded.length >= 4, `${recorded.length} recorded`);
  const atomic = playAtomics(join(FIXTURES, 'atomic')).events;
  assert.ok(atomic.length > 0);
  // Each event also with every string column upper-cased and lower-cased: case must not change a verdict.
  const variants = [...recorded, ...atomic].flatMap((e) => [e, ...(['toUpperCase', 'toLowerCase'] as const).map((f) => Object.fromEntries(
    Object.entries(e).map(([k, v]) => [k, typeof v === 'string' && !['Table', 'Timestamp', 'ReportId', 'DeviceId'].includes(k) ? v[f]() : v]),
  ) as unknown as SensorEvent)]);
  const matches = assertSame(set, variants);
  assert.ok(matches >= 3, `${set.detections.length} rules, ${variants.length} events: ${matches} matches: the recorded samples are the rules' own regression events`);
});

// --- The found bug: a Windows rule fired on Linux events (and the reverse) ----------------------

const T0 = Date.UTC(2026, 2, 1, 10);
function event(fields: Record<string, unknown>, at: number, device = 'dev-1'): SensorEvent {
  return EventSchema.parse({ Timestamp: new Date(at).toISOString(), DeviceId: device, DeviceName: `host-${device}`, ReportId: uuidv7({ msecs: at }), ...fields });
}

const RULES = [
  { file: 'win.yml', text: 'title: Windows whoami\nid: 5d2f7c1e-7d0e-4c55-9d7a-2f7c6e0b1a01\nlogsource: { category: process_creation, product: windows }\ndetection:\n  sel: { CommandLine|contains: whoami }\n  condition: sel\n' },
  { file: 'lnx.yml', text: 'title: Linux whoami\nid: 5d2f7c1e-7d0e-4c55-9d7a-2f7c6e0b1a02\nlogsource: { category: process_creation, product: linux }\ndetection:\n  sel: { CommandLine|contains: whoami }\n  condition: sel\n' },
  { file: 'any.yml', text: 'title: Any whoami\nid: 5d2f7c1e-7d0e-4c55-9d7a-2f7c6e0b1a03\nlogsource: { category: process_creation }\ndetection:\n  sel: { CommandLine|contains: whoami }\n  condition: sel\n' },
];
const whoami = (at: number, device: string) => event({ Table: 'DeviceProcessEvents', ActionType: 'ProcessCreated', FileName: 'whoami', FolderPath: '/usr/bin/whoami', ProcessCommandLine: 'whoami' }, at, device);
const deviceInfo = (at: number, device: string, platform: string) => event({ Table: 'DeviceInfo', OSPlatform: platform }, at, device);
const titles = (alerts: AlertRow[], device: string) => alerts.filter((a) => a.agentId === device).map((a) => String(a.properties.alertDisplayName)).sort();

test('found bug: a Windows rule does not fire on a Linux device\'s events, nor a Linux rule on a Windows device\'s (OS from DeviceInfo)', async () => {
  const { set } = compileRules(RULES);
  const alerts = await detectOffline([
    deviceInfo(T0, 'lnx-1', 'Linux'), whoami(T0 + 1000, 'lnx-1'),
    deviceInfo(T0, 'win-1', 'WindowsServer2022'), whoami(T0 + 1000, 'win-1'),
  ], { rules: set });
  assert.deepEqual(titles(alerts, 'lnx-1'), ['Any whoami', 'Linux whoami']);
  assert.deepEqual(titles(alerts, 'win-1'), ['Any whoami', 'Windows whoami']);
});

test('the OS arcsim registered for a device filters the same way; a device of unknown OS runs every rule', async () => {
  const { set } = compileRules(RULES);
  const alerts = await detectOffline([whoami(T0, 'lnx-2'), whoami(T0, 'mac-1'), whoami(T0, 'unknown-1')], {
    rules: set, deviceOs: new Map([['lnx-2', 'linux'], ['mac-1', 'darwin']]),
  });
  assert.deepEqual(titles(alerts, 'lnx-2'), ['Any whoami', 'Linux whoami']);
  assert.deepEqual(titles(alerts, 'mac-1'), ['Any whoami']);
  assert.deepEqual(titles(alerts, 'unknown-1'), ['Any whoami', 'Linux whoami', 'Windows whoami']);
});

test('a scenario playback (DetonationId) on a host of known OS runs every rule: it stands for its scenario\'s platform, not the host\'s', async () => {
  const { set } = compileRules(RULES);
  // A Linux lab host plays a Windows attack: the host's OS does not filter the playback's events.
  const played = EventSchema.parse({ ...whoami(T0 + 1000, 'lnx-3'), DetonationId: 'det-1' });
  const alerts = await detectOffline([deviceInfo(T0, 'lnx-3', 'Linux'), played, whoami(T0 + 2000, 'lnx-3')], { rules: set });
  assert.deepEqual(titles(alerts, 'lnx-3'), ['Any whoami', 'Linux whoami', 'Windows whoami']);
  const windowsAlert = alerts.find((a) => a.properties.alertDisplayName === 'Windows whoami')!;
  assert.equal(windowsAlert.count, 1, 'only the playback: the host\'s own whoami is a Linux event');
});
