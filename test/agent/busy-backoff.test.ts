import { test } from 'node:test';
import assert from 'node:assert/strict';
import { busyDelayMs } from '../../agent/keepalive.ts';

test('after ARCSIM_E_BUSY the agent waits the advised retryAfterMs plus up to a tenth of it in its own jitter', () => {
  // Server advised 3,000 ms (its turn in the server's virtual queue); the agent's jitter adds 0..300 ms.
  assert.equal(busyDelayMs(3000, 250, () => 0), 3000);
  assert.equal(busyDelayMs(3000, 250, () => 0.5), 3150);
  assert.equal(busyDelayMs(3000, 250, () => 0.999), 3299);
  assert.equal(busyDelayMs(30_000, 250, () => 0.5), 31_500);
  const spread = new Set(Array.from({ length: 50 }, (_, i) => busyDelayMs(3000, 0, () => i / 50)));
  assert.equal(spread.size, 50, 'distinct random draws give distinct delays (no thundering herd)');
});

test('a BUSY refusal is not a failure: the advised turn is followed however many refusals came before, never under the floor', () => {
  // The server's virtual queue advises 1,000 ms each time; the agent's failure backoff (500 ms min,
  // doubling) would be 64 s-capped-at-30 s by the eighth attempt if refusals advanced it.
  const delays = Array.from({ length: 8 }, () => busyDelayMs(1000, 250, () => 0));
  assert.deepEqual(delays, Array(8).fill(1000));
  assert.equal(busyDelayMs(0, 250, () => 0.5), 250, 'a server advising 0 ms does not make the agent spin');
});
