import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../lib/clock.ts';
import { Admission } from '../../control-plane/gateway/admission.ts';
import { busyDelayMs } from '../../agent/keepalive.ts';

const LIMITS = { maxRegistrationsInFlight: 4, maxRegistrationsWaiting: 16, busyRetryAfterMs: 2000, busyRetryMinMs: 250, admissionRateSamples: 64 };

/**
 * A storm in virtual time: `agents` agents arrive within `arrivalMs` (evenly, as a fleet opening its
 * sockets does); the server registers one upgraded socket
 * every `serviceMs` (as long as one is waiting); a refused agent comes back after the advised delay
 * plus its own jitter (agent/keepalive.ts, as the real agent does, random fixed at `jitter`).
 * Returns how often each agent was refused and when the last one got in.
 */
function storm(agents: number, serviceMs: number, arrivalMs: number, jitter = 0.5): { refusals: number[]; lastInMs: number } {
  const clock = new ManualClock(0);
  const admission = new Admission(LIMITS, () => 0.5, clock);
  const refusals = new Array<number>(agents).fill(0);
  const comeBackAt = Array.from({ length: agents }, (_, a) => Math.floor((a * arrivalMs) / agents));
  const inside: number[] = []; // admitted, not yet registered, in arrival order
  let registered = 0;
  let nextServiceAt = serviceMs;
  let lastInMs = 0;
  for (let t = 0; registered < agents && t < 600_000; t++) {
    clock.set(t);
    while (inside.length && t >= nextServiceAt) {
      inside.shift();
      admission.leaveHandshake();
      registered++;
      lastInMs = t;
      nextServiceAt += serviceMs;
    }
    if (!inside.length) nextServiceAt = t + serviceMs;
    for (let a = 0; a < agents; a++) {
      if (comeBackAt[a] !== t) continue;
      if (admission.enterHandshake()) inside.push(a);
      else {
        refusals[a]!++;
        comeBackAt[a] = t + busyDelayMs(admission.retryAfterMs(), 0, () => jitter);
      }
    }
  }
  assert.equal(registered, agents, 'every agent registered within the simulated 600 s');
  return { refusals, lastInMs };
}

test('refused agents are given their own turns from the measured registration rate (virtual queue)', () => {
  const clock = new ManualClock(0);
  const admission = new Admission(LIMITS, () => 0.5, clock);
  for (let i = 0; i < LIMITS.maxRegistrationsInFlight + LIMITS.maxRegistrationsWaiting; i++) assert.ok(admission.enterHandshake());
  assert.equal(admission.enterHandshake(), false, 'past 4 + 16 upgraded sockets the next is refused');
  // Nothing measured yet: a point between busyRetryMinMs and busyRetryAfterMs (random 0.5: halfway, 250 + 875).
  assert.equal(admission.retryAfterMs(), 1125);
  // 10 registrations, one every 20 ms: 50 a second.
  for (let i = 0; i < 10; i++) { clock.advance(20); admission.leaveHandshake(); }
  for (let i = 0; i < 10; i++) assert.ok(admission.enterHandshake());
  const advice = Array.from({ length: 30 }, () => admission.retryAfterMs());
  // Turn k comes k × 20 ms from now (never sooner than busyRetryMinMs): distinct, in order, 20 ms apart.
  assert.deepEqual(advice.slice(0, 12), [250, 250, 250, 250, 250, 250, 250, 250, 250, 250, 250, 250]);
  assert.equal(advice[12], 260);
  assert.equal(advice[29], 600);
  for (let k = 13; k < 30; k++) assert.equal(advice[k]! - advice[k - 1]!, 20);
  // Time passing moves the queue's head: 300 ms later the next refused agent comes after the last turn given.
  clock.advance(300);
  assert.equal(admission.retryAfterMs(), 600 + 20 - 300);
});

test('a storm of 2,000 agents: nearly every refused agent gets in at its turn, and the last is in about when the service rate allows', () => {
  // 2,000 agents opening their sockets over 1 s, 200 registrations a second: 10 s of work at best.
  const { refusals, lastInMs } = storm(2000, 5, 1000);
  const histogram = refusals.reduce<Record<number, number>>((h, r) => ({ ...h, [r]: (h[r] ?? 0) + 1 }), {});
  // Agents still arriving for the first time take places freed before the first turns come back: a few are refused again.
  assert.ok(Math.max(...refusals) <= 3, `refusals per agent: ${JSON.stringify(histogram)}`);
  assert.ok(refusals.filter((r) => r > 1).length <= 2000 * 0.15, `refusals per agent: ${JSON.stringify(histogram)}`);
  // The agents' own jitter (up to a tenth of the advice) is the only slack on top of the 10 s.
  assert.ok(lastInMs <= 10_000 * 1.15, `last agent in after ${lastInMs} ms`);
});

test('the same storm arriving all in the same millisecond: the first refusals are blind, later ones get turns', () => {
  const { refusals, lastInMs } = storm(2000, 5, 0);
  const histogram = refusals.reduce<Record<number, number>>((h, r) => ({ ...h, [r]: (h[r] ?? 0) + 1 }), {});
  assert.ok(Math.max(...refusals) <= 3, `refusals per agent: ${JSON.stringify(histogram)}`);
  // Blind advice (0.25-2 s) for the first 1,980, then turns: the last is in within the blind wait plus
  // the work. (With the old blind advice, 2-4 s, the places drained and the server idled until the
  // burst came back: the last was in after 13.6 s.)
  assert.ok(lastInMs <= 2000 + 10_000 * 1.15, `last agent in after ${lastInMs} ms`);
});
