import { test } from 'node:test';
import assert from 'node:assert/strict';

// Its own file, so its own process: nothing has loaded the parser before the snapshot below.
test("loading Microsoft's parser leaves the built-in prototypes alone (it runs inside the control plane)", async () => {
  const targets = [Object.prototype, Array.prototype, String.prototype, Number.prototype, Function.prototype, Date.prototype, RegExp.prototype, Promise.prototype, Error.prototype];
  const before = targets.map((t) => Object.getOwnPropertyNames(t).sort().join(','));
  const { parseKql } = await import('../../../control-plane/query/parser.ts');
  parseKql('print 1');
  assert.deepEqual(targets.map((t) => Object.getOwnPropertyNames(t).sort().join(',')), before);
  const keys: string[] = [];
  for (const k in [1, 2]) keys.push(k);
  assert.deepEqual(keys, ['0', '1'], 'for...in over an array sees only its indexes');
});
