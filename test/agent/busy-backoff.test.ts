import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, busyDelayMs } from '../../agent/keepalive.ts';

test('after ARCSIM_E_BUSY the agent waits the advised retryAfterMs plus up to a tenth of it in its own jitter', () => {
  // Server advised 3,000 ms (its turn in the server's virtual queue); the agent's jitter adds 0..300 ms.
  assert.equal(busyDelayMs(3000, 250, () => 0), 3000);
  assert.equal(busyDelayMs(3000, 250, () => 0.5), 3150);
  assert.equal(busyDelayMs(3000, 250, () => 0.999), 3299);
  assert.equal(busyDelayMs(30_000, 250, () => 0.5), 31_500);
  const spread = new Set(Array.from({ length: 50 }, (_, i) => busyDelayMs(3000, 0, () => i / 50)));
  assert.equal(spread.size, 50, 'distinct random draws give distinct delays (no thundering herd)');
});

test('a longer exponential backoff still wins over the advised delay', () => {
  const backoff = new Backoff({ minMs: 500, maxMs: 30_000, random: () => 0.999 });
  const delays = Array.from({ length: 8 }, () => busyDelayMs(1000, backoff.next(), () => 0));
  assert.equal(delays[0], 1000); // backoff 499 < advised 1,000
  assert.ok(delays[7]! > 20_000, `after 8 attempts the backoff (${delays[7]} ms) dominates`);
});
