import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runQuery, type TableSource } from '../../../control-plane/query/index.ts';
import { toJsonValue } from '../../../control-plane/query/values.ts';

/**
 * Kusto semantics, each expected value taken from the example in Microsoft's KQL reference
 * (learn.microsoft.com/kusto/query/<page>), named beside each case.
 */
const none: TableSource = { schema: () => undefined, tableNames: () => [], rows: async () => [] };
const NOW = new Date('2026-03-10T12:00:00Z');

async function rows(q: string): Promise<Array<Record<string, unknown>>> {
  const r = await runQuery(q, none, { now: NOW, timeoutMs: 10_000, maxRows: 10_000 });
  return r.rows.map((row) => Object.fromEntries(r.columns.map((c) => [c.name, toJsonValue(row[c.name] ?? null)])));
}
const one = async (expr: string) => (await rows(`print v = ${expr}`))[0]!.v;

test('string operators (datatypes-string-operators: the examples of its table)', async () => {
  const cases: Array<[string, boolean]> = [
    [`"North America" has "america"`, true], [`"North America" !has "amer"`, true], [`"North America" has_cs "America"`, true],
    [`"North America" !has_cs "amer"`, true], [`"North America" hasprefix "ame"`, true], [`"North America" hassuffix "ica"`, true],
    [`"FabriKam" contains "BRik"`, true], [`"Fabrikam" !contains "xyz"`, true], [`"FabriKam" contains_cs "Kam"`, true],
    [`"Fabrikam" endswith "Kam"`, true], [`"Fabrikam" endswith_cs "kam"`, true], [`"Fabrikam" startswith "fab"`, true],
    [`"Fabrikam" startswith_cs "Fab"`, true], [`"aBc" == "aBc"`, true], [`"aBc" == "abc"`, false], [`"abc" =~ "ABC"`, true],
    [`"aBc" != "abc"`, true], [`"aBc" !~ "xyz"`, true], [`"abc" in ("123", "345", "abc")`, true], [`"bca" !in ("123", "345", "abc")`, true],
    [`"Abc" in~ ("123", "345", "abc")`, true], [`"bCa" !in~ ("123", "345", "ABC")`, true], [`"Fabrikam" matches regex "b.*k"`, true],
    [`"North America" has_any ("south", "north")`, true], [`"North America" has_all ("south", "north")`, false],
  ];
  for (const [expr, expected] of cases) assert.equal(await one(expr), expected, expr);
});

test('between, in over a subquery, iff, case, coalesce, isempty (between-operator, case-function, coalesce-function, isempty-function)', async () => {
  assert.deepEqual((await rows('range x from 1 to 100 step 1 | where x between (50 .. 55)')).map((r) => r.x), [50, 51, 52, 53, 54, 55]);
  assert.equal(await one('datetime(2024-01-02) between (datetime(2024-01-01) .. 1d)'), true);
  assert.deepEqual((await rows('let ids = datatable(x:long)[2, 4]; range x from 1 to 5 step 1 | where x in (ids)')).map((r) => r.x), [2, 4]);
  assert.equal(await one('coalesce(tolong("not a number"), tolong("42"), 33)'), 42);
  // case-function: `range Size from 1 to 15 step 2 | extend bucket = case(Size <= 3, "Small", Size <= 10, "Medium", "Large")`
  assert.deepEqual((await rows('range Size from 1 to 15 step 2 | extend bucket = case(Size <= 3, "Small", Size <= 10, "Medium", "Large")')).map((r) => r.bucket),
    ['Small', 'Small', 'Medium', 'Medium', 'Medium', 'Large', 'Large', 'Large']);
  assert.deepEqual(await rows('print a = isempty(""), b = isempty("x"), c = isnotempty(""), d = iff(1 > 0, "yes", "no")'), [{ a: true, b: false, c: false, d: 'yes' }]);
});

test('datetime and timespan (bin-function, datetime-diff-function, startofday-function, ago-function)', async () => {
  assert.equal(await one('bin(4.5, 1)'), 4);
  assert.equal(await one('bin(time(16d), 7d)'), '14.00:00:00');
  assert.equal(await one('bin(datetime(1970-05-11 13:45:07), 1d)'), '1970-05-11T00:00:00.0000000Z');
  assert.deepEqual(await rows(`print
    year = datetime_diff('year', datetime(2017-01-01), datetime(2000-12-31)),
    month = datetime_diff('month', datetime(2017-01-01), datetime(2015-12-30)),
    week = datetime_diff('week', datetime(2017-10-29 00:00), datetime(2017-09-30 23:59)),
    day = datetime_diff('day', datetime(2017-10-29 00:00), datetime(2017-09-30 23:59)),
    hour = datetime_diff('hour', datetime(2017-10-31 01:00), datetime(2017-10-30 23:59)),
    minute = datetime_diff('minute', datetime(2017-10-30 23:05:01), datetime(2017-10-30 23:00:59)),
    second = datetime_diff('second', datetime(2017-10-30 23:00:10.100), datetime(2017-10-30 23:00:00.900))`),
  [{ year: 17, month: 13, week: 5, day: 29, hour: 2, minute: 5, second: 10 }]);
  assert.equal(await one('startofday(datetime(2017-01-01 10:10:17))'), '2017-01-01T00:00:00.0000000Z');
  assert.equal(await one('ago(1h)'), '2026-03-10T11:00:00.0000000Z');
  assert.equal(await one("format_datetime(datetime(2015-12-14 02:03:04.12345), 'yyyy-MM-dd [HH:mm:ss]')"), '2015-12-14 [02:03:04]');
});

test('strings, regex, dynamic values (split-function, extract-function, parse-path-function, base64, array-length, parse-json)', async () => {
  assert.deepEqual(await rows('print a = split("aa_bb", "_"), b = split("aaa_bbb_ccc", "_", 1), c = split("", "_"), d = split("a__b", "_")'),
    [{ a: ['aa', 'bb'], b: ['bbb'], c: [''], d: ['a', '', 'b'] }]);
  assert.equal(await one('extract("x=([0-9.]+)", 1, "hello x=45.6|wo")'), '45.6');
  assert.deepEqual(await one('extract_all(@"(\\d+)", "a1 b22 c333")'), ['1', '22', '333']);
  assert.deepEqual(await one('parse_path(@"C:\\temp\\file.txt")'), {
    Scheme: '', RootPath: 'C:', DirectoryPath: 'C:\\temp', DirectoryName: 'temp', Filename: 'file.txt', Extension: 'txt', AlternateDataStreamName: '',
  });
  assert.equal(await one('base64_decode_tostring("S3VzdG8=")'), 'Kusto');
  assert.equal(await one('array_length(dynamic([1, 2, 3, "four"]))'), 4);
  assert.equal(await one('parse_json(\'{"a": {"b": [10, 20]}}\').a.b[1]'), 20);
  assert.equal(await one('parse_json(\'{"a": {"b": [10, 20]}}\')["a"]["b"][-1]'), 20);
  assert.equal(await one('strcat("hello", " ", "world")'), 'hello world');
  // extract-json-function: `extract_json("$.hosts[0].AvailableMB", x, typeof(int))` over its example document.
  assert.equal(await one(`extract_json("$.hosts[1].AvailableMB", '{"hosts": [{"location": "North_DC", "status": "up", "rate": 5, "AvailableMB": 5}, {"location": "South_DC", "status": "down", "rate": 0, "AvailableMB": 3}]}', typeof(int))`), 3);
  assert.equal(await one(`extractjson("$.Command", '{"Command": "Get-Process"}', typeof(string))`), 'Get-Process');
  assert.deepEqual(await one('bag_pack("a", 1, "b", "x")'), { a: 1, b: 'x' });
  assert.equal(await one('parse_url("https://user:pw@host.example:1234/p/a?k=v#f").Host'), 'host.example');
});

test('numerical operators: two integers divide as integers, truncated toward zero; a real operand divides as real (numerical-operators)', async () => {
  assert.deepEqual(await rows('print a = 5 / 2, b = 5.0 / 2, c = -5 / 2, d = 5 % 3, e = 100.0 * 1 / 8, f = toreal(1) / 4'), [{ a: 2, b: 2.5, c: -2, d: 2, e: 12.5, f: 0.25 }]);
  // count() is a long: half of 5 is 2.
  assert.deepEqual(await rows('range x from 1 to 5 step 1 | summarize n = count() | extend half = n / 2'), [{ n: 5, half: 2 }]);
});

test('IPv4 functions (ipv4-is-private-function, ipv4-is-in-range-function)', async () => {
  assert.deepEqual(await rows('print a = ipv4_is_private("192.168.1.1"), b = ipv4_is_private("208.1.2.3"), c = ipv4_is_in_range("192.168.1.6", "192.168.1.1/24"), d = ipv4_is_in_range("192.168.2.6", "192.168.1.1/24")'),
    [{ a: true, b: false, c: true, d: false }]);
});

// join-operator: the X / Y example tables of Microsoft's join page.
const XY = `let X = datatable(Key:string, Value1:long)['a',1, 'b',2, 'b',3, 'c',4];
let Y = datatable(Key:string, Value2:long)['b',10, 'c',20, 'c',30, 'd',40];`;
const keys = async (kind: string, project = 'project Key, Value1, Value2', order = 'Key asc, Value1 asc, Value2 asc') => (await rows(`${XY} X | join kind=${kind} Y on Key | order by ${order} | ${project}`));

test('join kinds, innerunique by default (join-operator and its per-kind pages)', async () => {
  const dflt = await rows(`${XY} X | join Y on Key | project Key, Value2 | order by Key asc, Value2 asc`);
  assert.deepEqual(dflt, [{ Key: 'b', Value2: 10 }, { Key: 'c', Value2: 20 }, { Key: 'c', Value2: 30 }], 'one left row per key, then every match');
  assert.deepEqual(await keys('inner'), [
    { Key: 'b', Value1: 2, Value2: 10 }, { Key: 'b', Value1: 3, Value2: 10 }, { Key: 'c', Value1: 4, Value2: 20 }, { Key: 'c', Value1: 4, Value2: 30 },
  ]);
  assert.deepEqual((await keys('leftouter')).map((r) => [r.Key, r.Value1, r.Value2]), [['a', 1, null], ['b', 2, 10], ['b', 3, 10], ['c', 4, 20], ['c', 4, 30]]);
  assert.deepEqual((await keys('fullouter', 'project Key, Key1, Value2', 'Key1 asc')).map((r) => [r.Key, r.Key1]).filter((k) => k[0] === null), [[null, 'd']]);
  assert.deepEqual(await keys('leftanti', 'project Key, Value1', 'Key asc'), [{ Key: 'a', Value1: 1 }]);
  assert.deepEqual(await keys('rightanti', 'project Key, Value2', 'Key asc'), [{ Key: 'd', Value2: 40 }]);
  assert.deepEqual((await keys('leftsemi', 'project Key, Value1', 'Value1 asc')).map((r) => r.Value1), [2, 3, 4]);
  assert.deepEqual((await rows(`${XY} X | join kind=inner Y on $left.Key == $right.Key | project Key, Key1 | take 1`))[0], { Key: 'b', Key1: 'b' });
});

test('summarize, top, distinct, mv-expand, parse, let functions, union, bag_unpack (their reference pages)', async () => {
  assert.deepEqual(await rows('range x from 1 to 10 step 1 | summarize count(), dcount(x % 3), sum(x), make_set(x % 2) by even = x % 2 == 0 | order by even asc'), [
    // By hand: odd x 1,3,5,7,9 give x % 3 = 1,0,2,1,0 (3 values), sum 25; even 2..10 give 2,1,0,2,1, sum 30.
    { even: false, count_: 5, dcount_: 3, sum_x: 25, set_: [1] }, { even: true, count_: 5, dcount_: 3, sum_x: 30, set_: [0] },
  ]);
  assert.deepEqual(await rows('range x from 1 to 5 step 1 | top 2 by x'), [{ x: 5 }, { x: 4 }]);
  assert.deepEqual(await rows('datatable(a:string)["x", "y", "x"] | distinct a | order by a asc'), [{ a: 'x' }, { a: 'y' }]);
  // mv-expand-operator: a bag expands into one single-property bag per row.
  assert.deepEqual(await rows('datatable(a:int, b:dynamic)[1, dynamic({"prop1": "a1", "prop2": "b1"}), 2, dynamic({"prop1": "a2", "prop2": "b2"})] | mv-expand b'), [
    { a: 1, b: { prop1: 'a1' } }, { a: 1, b: { prop2: 'b1' } }, { a: 2, b: { prop1: 'a2' } }, { a: 2, b: { prop2: 'b2' } },
  ]);
  // parse-operator's first example.
  const parsed = await rows(`print s = "Event: NotifySliceRelease (resourceName=PipelineScheduler, totalSlices=27, sliceNumber=23, lockTime=02/17/2016 08:40:01, releaseTime=02/17/2016 08:40:01, previousLockTime=02/17/2016 08:39:01)"
    | parse s with * "resourceName=" resourceName ", totalSlices=" totalSlices:long * "sliceNumber=" sliceNumber:long * "lockTime=" lockTime ", releaseTime=" releaseTime "," * "previousLockTime=" previousLockTime ")" *
    | project resourceName, totalSlices, sliceNumber, lockTime`);
  assert.deepEqual(parsed, [{ resourceName: 'PipelineScheduler', totalSlices: 27, sliceNumber: 23, lockTime: '02/17/2016 08:40:01' }]);
  // kind=regex: the delimiters are regular expressions, their own groups do not shift the columns.
  assert.deepEqual(await rows(`print s = "key=abc, n=42" | parse kind=regex s with "(k|K)ey=" key ", (n|N)=" n:long | project key, n`), [{ key: 'abc', n: 42 }]);
  assert.deepEqual(await rows('let f = (a:long, b:long) { a * b }; print v = f(6, 7)'), [{ v: 42 }]);
  assert.deepEqual(await rows('let T = datatable(x:long)[1, 2]; let Above = (t:(x:long), n:long) { t | where x > n }; T | invoke Above(1)'), [{ x: 2 }]);
  assert.deepEqual((await rows('union (print a = 1), (print b = 2)')).length, 2);
  assert.deepEqual(await rows('datatable(d:dynamic)[dynamic({"Name": "John", "Age": 20})] | evaluate bag_unpack(d)'), [{ Name: 'John', Age: 20 }]);
  assert.deepEqual(await rows('datatable(a:string)["x"] | project-rename b = a | extend c = strcat(b, "!") | project-reorder c | project-away b'), [{ c: 'x!' }]);
});
