import { describe, expect, it } from 'vitest';
import { createFlowGate, type FlowEndpoint, type FlowSignal, type Lane } from '../../functions/flow/gate';
import { TokenBucket } from '../../functions/flow/token-bucket';
import { throttleView, type StoredThrottle } from '../../functions/flow/throttle';

const T0 = Date.parse('2026-12-04T00:00:00.000Z');
const ep = (extra: Partial<FlowEndpoint> = {}): FlowEndpoint => ({ id: 'ep_1', appId: 'app_1', ...extra });
const ok = (durationMs = 20): FlowSignal => ({ kind: 'success', durationMs });
const fail = (error = 'HTTP 500'): FlowSignal => ({ kind: 'failed', error, timeout: false, durationMs: 5 });

describe('token bucket', () => {
  it('gives tokens at its rate and says how long until the next', () => {
    const b = new TokenBucket(2, 1, T0);
    expect(b.take(T0)).toEqual({ ok: true });
    expect(b.take(T0)).toEqual({ ok: false, waitMs: 500 });
    expect(b.take(T0 + 500)).toEqual({ ok: true });
  });

  it('reserves future tokens one interval apart, so a burst is spread at the rate', () => {
    const b = new TokenBucket(10, 1, T0);
    const waits = Array.from({ length: 5 }, () => b.reserve(T0));
    expect(waits).toEqual([0, 100, 200, 300, 400]);
    // Later callers queue behind the reserved tokens.
    expect(b.reserve(T0 + 100)).toBe(400);
  });
});

describe('flow gate: lanes', () => {
  it('lets an endpoint in good standing send on the shared lane, with the shared budget as its timeout', () => {
    const gate = createFlowGate({ sharedBudgetMs: 1000 });
    expect(gate.admit(ep(), 'shared', T0)).toEqual({ go: true, budgetMs: 1000 });
  });

  it('moves a rate-limited endpoint to the isolation lane without attempting', () => {
    const gate = createFlowGate();
    const a = gate.admit(ep({ rateLimit: { perSecond: 5 } }), 'shared', T0);
    expect(a).toEqual({ go: false, waitMs: 0, reason: 'isolate', moveTo: 'isolated' });
  });

  it('paces a rate-limited endpoint at its share: the rate divided by the lane concurrency', () => {
    const gate = createFlowGate({ laneConcurrency: { isolated: 2, ordered: 10 } });
    const e = ep({ rateLimit: { perSecond: 10 } });
    const results = Array.from({ length: 4 }, () => gate.admit(e, 'isolated', T0));
    expect(results[0]).toEqual({ go: true });
    // 10/s over 2 containers: 5/s here, one every 200 ms, each with a reserved token.
    expect(results.slice(1).map((r) => (r.go ? 0 : r.waitMs))).toEqual([200, 400, 600]);
    const second = results[1];
    if (second?.go !== false) throw new Error('expected a wait');
    expect(second.ticketAtMs).toBe(T0 + 200);
    // The deferred delivery comes back with its ticket and goes without taking another token.
    expect(gate.admit(e, 'isolated', T0 + 200, { ticketAtMs: T0 + 200 })).toEqual({ go: true });
    expect(gate.admit(e, 'isolated', T0 - 300 + 200, { ticketAtMs: T0 + 200 })).toEqual({ go: true, sleepMs: 300 });
  });

  it('never sends more than the limit across containers that share the lane', () => {
    const concurrency = 3;
    const gates = Array.from({ length: concurrency }, () =>
      createFlowGate({ laneConcurrency: { isolated: concurrency, ordered: 1 } }),
    );
    const e = ep({ rateLimit: { perSecond: 12 } });
    const sends: number[] = [];
    // Each container has a backlog: it asks every 10 ms, and a deferred delivery comes back at its ticket.
    const tickets: (number | undefined)[] = gates.map(() => undefined);
    for (let t = 0; t < 10_000; t += 10) {
      gates.forEach((gate, i) => {
        const ticket = tickets[i];
        if (ticket !== undefined && ticket > T0 + t) return;
        const a = gate.admit(e, 'isolated', T0 + t, { ticketAtMs: ticket });
        tickets[i] = a.go ? undefined : a.ticketAtMs;
        if (a.go) sends.push(T0 + t + (a.sleepMs ?? 0));
      });
    }
    const sent = sends.length;
    // No second holds more than the limit (plus the one token each container starts with).
    for (const start of sends) {
      expect(sends.filter((s) => s >= start && s < start + 1000).length).toBeLessThanOrEqual(12 + concurrency);
    }
    expect(sent).toBeLessThanOrEqual(12 * 10 + concurrency);
    expect(sent).toBeGreaterThanOrEqual(12 * 10 - concurrency);
  });

  it('counts the invocations a local runtime runs in one container as more of the share', () => {
    const gate = createFlowGate({ laneConcurrency: { isolated: 2, ordered: 1 }, containerSlots: () => 2 });
    const e = ep({ rateLimit: { perSecond: 10 } });
    gate.admit(e, 'isolated', T0);
    const next = gate.admit(e, 'isolated', T0);
    expect(next.go ? 0 : next.waitMs).toBe(100);
  });
});

describe('flow gate: adaptive rate', () => {
  it('halves the rate observed on a 429 and holds every attempt for its Retry-After', () => {
    const gate = createFlowGate({ random: () => 0 });
    const e = ep();
    for (let i = 0; i < 20; i++) gate.admit(e, 'shared', T0 + i * 10);
    const change = gate.observe(e, { kind: 'congested', statusCode: 429, retryAfterS: 2, durationMs: 5 }, T0 + 200);
    expect(change?.throttle).toMatchObject({ state: 'throttled', perSecond: 10, reason: 'HTTP 429' });
    expect(change?.throttle?.until).toBe(new Date(T0 + 2200).toISOString());
    // Throttled: the shared lane moves it; the isolation lane holds it until the Retry-After ends.
    expect(gate.admit(e, 'shared', T0 + 300)).toMatchObject({ go: false, moveTo: 'isolated' });
    expect(gate.admit(e, 'isolated', T0 + 300)).toMatchObject({ go: false, reason: 'retry_after', waitMs: 1900 });
    expect(gate.admit(e, 'isolated', T0 + 2300)).toEqual({ go: true });
  });

  it('counts a burst of 429s answering one window as one decrease', () => {
    const gate = createFlowGate();
    const e = ep();
    for (let i = 0; i < 40; i++) gate.admit(e, 'shared', T0);
    const first = gate.observe(e, { kind: 'congested', statusCode: 429, durationMs: 5 }, T0 + 10);
    const second = gate.observe(e, { kind: 'congested', statusCode: 429, durationMs: 5 }, T0 + 20);
    expect(first?.throttle?.perSecond).toBe(20);
    expect(second).toBeNull();
    expect(gate.stateOf(e, T0 + 20)?.perSecond).toBe(20);
  });

  it('raises the rate by one a second while answers are healthy, and returns to normal after a calm minute', () => {
    const gate = createFlowGate({ calmToNormalMs: 60_000 });
    const e = ep();
    for (let i = 0; i < 8; i++) gate.admit(e, 'shared', T0);
    gate.observe(e, { kind: 'congested', statusCode: 503, durationMs: 5 }, T0);
    expect(gate.stateOf(e, T0)?.perSecond).toBe(4);
    gate.observe(e, ok(), T0 + 1000);
    gate.observe(e, ok(), T0 + 2000);
    expect(gate.stateOf(e, T0 + 2000)?.perSecond).toBe(6);
    const back = gate.observe(e, ok(), T0 + 61_000);
    expect(back).toEqual({ throttle: null });
    expect(gate.admit(e, 'shared', T0 + 61_001)).toMatchObject({ go: true });
  });

  it('returns to normal as soon as the rate climbs back to its ceiling, where it limits nothing', () => {
    const gate = createFlowGate({ calmToNormalMs: 60_000, sharedBudgetMs: 1000 });
    const e = ep();
    // A burst whose answers slow down: the rate falls to 70 % of the ~700/s seen (490/s).
    for (let i = 0; i < 10; i++) {
      gate.admit(e, 'shared', T0 + i * 10);
      gate.observe(e, ok(40), T0 + i * 10 + 40);
    }
    for (let i = 0; i < 690; i++) gate.admit(e, 'shared', T0 + 500);
    expect(gate.observe(e, ok(800), T0 + 900)?.throttle).toMatchObject({ state: 'throttled', perSecond: 490 });
    expect(gate.admit(e, 'shared', T0 + 901)).toMatchObject({ go: false, moveTo: 'isolated' });
    // Calm seconds raise it by 10 % each: 539, 593, ..., 955 after seven, then the ceiling (1000).
    let t = T0 + 900;
    for (let s = 0; s < 7; s++) gate.observe(e, ok(40), (t += 1000));
    expect(gate.stateOf(e, t)?.perSecond).toBeCloseTo(955, 0);
    expect(gate.observe(e, ok(40), (t += 1000))).toEqual({ throttle: null });
    expect(gate.admit(e, 'shared', t + 1)).toMatchObject({ go: true });
  });

  it('writes nothing for an endpoint that keeps answering well', () => {
    const gate = createFlowGate();
    const e = ep();
    let changes = 0;
    for (let i = 0; i < 1000; i++) {
      gate.admit(e, 'shared', T0 + i);
      if (gate.observe(e, ok(15 + (i % 7)), T0 + i + 15)) changes++;
    }
    expect(changes).toBe(0);
  });

  it('keeps a receiver that 429s past 10 requests a second under 25 % 429s, and delivers everything', () => {
    const result = simulate429Receiver({ events: 200, limitPerSecond: 10 });
    expect(result.delivered).toBe(200);
    expect(result.tooMany / result.requests).toBeLessThanOrEqual(0.25);
  });

  it('lowers the rate when answers slow down far beyond their usual time', () => {
    const gate = createFlowGate({ sharedBudgetMs: 1000 });
    const e = ep();
    for (let i = 0; i < 10; i++) {
      gate.admit(e, 'shared', T0 + i * 100);
      gate.observe(e, ok(40), T0 + i * 100 + 40);
    }
    const change = gate.observe(e, ok(900), T0 + 2000);
    expect(change?.throttle).toMatchObject({ state: 'throttled', reason: 'rising latency: 900 ms' });
  });
});

describe('flow gate: a slow mark lifts', () => {
  it('lifts a slow mark after twenty fast answers in a row, five seconds past the last slow one', () => {
    const gate = createFlowGate({ sharedBudgetMs: 1000, calmToNormalMs: 60_000 });
    const e = ep();
    gate.admit(e, 'shared', T0);
    expect(gate.observe(e, { kind: 'cut', durationMs: 1000 }, T0 + 1000)?.throttle).toMatchObject({ slow: true });
    // Fast answers, but within five seconds of the cut: still slow.
    for (let i = 1; i <= 30; i++) expect(gate.observe(e, ok(30), T0 + 1000 + i * 100)).toBeNull();
    expect(gate.stateOf(e, T0 + 4000)).toMatchObject({ slow: true });
    // One answer over a quarter of the budget starts the count again.
    gate.observe(e, ok(300), T0 + 6000);
    for (let i = 1; i < 20; i++) expect(gate.observe(e, ok(30), T0 + 6000 + i * 10)).toBeNull();
    expect(gate.observe(e, ok(30), T0 + 6200)).toEqual({ throttle: null });
    expect(gate.admit(e, 'shared', T0 + 6201)).toMatchObject({ go: true });
  });

  it('keeps the slow mark of an endpoint that keeps timing out, however fast its rare answers', () => {
    const gate = createFlowGate({ sharedBudgetMs: 1000, calmToNormalMs: 60_000 });
    const e = ep();
    let t = T0;
    for (let round = 0; round < 10; round++) {
      gate.observe(e, { kind: 'failed', error: 'timeout', timeout: true, durationMs: 10_000 }, (t += 10_000));
      for (let i = 0; i < 10; i++) gate.observe(e, ok(20), (t += 100));
    }
    expect(gate.stateOf(e, t)).toMatchObject({ slow: true });
  });
});

describe('flow gate: slow endpoints', () => {
  it('marks an endpoint cut at the shared budget as slow, so its attempts take the isolation lane', () => {
    const gate = createFlowGate({ sharedBudgetMs: 1000 });
    const e = ep();
    gate.admit(e, 'shared', T0);
    const change = gate.observe(e, { kind: 'cut', durationMs: 1000 }, T0 + 1000);
    expect(change?.throttle).toMatchObject({
      state: 'throttled',
      slow: true,
      reason: 'slow: no answer within 1000 ms',
    });
    expect(change?.throttle?.perSecond).toBeUndefined();
    expect(gate.admit(e, 'shared', T0 + 1001)).toMatchObject({ go: false, moveTo: 'isolated', waitMs: 0 });
    // In the isolation lane it is not rate-limited: slowness alone only isolates it.
    expect(gate.admit(e, 'isolated', T0 + 1001)).toEqual({ go: true });
  });

  it('brings a slow endpoint back to the shared lane after a minute of quick answers', () => {
    const gate = createFlowGate({ sharedBudgetMs: 1000, calmToNormalMs: 60_000 });
    const e = ep();
    gate.observe(e, { kind: 'cut', durationMs: 1000 }, T0);
    expect(gate.observe(e, ok(2000), T0 + 30_000)).toBeNull();
    expect(gate.observe(e, ok(50), T0 + 60_000)).toBeNull();
    expect(gate.observe(e, ok(50), T0 + 90_001)).toEqual({ throttle: null });
  });
});

describe('flow gate: breaker', () => {
  it('pauses after five failed attempts in a row, and says until when', () => {
    const gate = createFlowGate();
    const e = ep();
    const changes = [0, 1, 2, 3, 4].map((i) => gate.observe(e, fail(), T0 + i * 1000));
    expect(changes.slice(0, 4).every((c) => c === null)).toBe(true);
    expect(changes[4]?.throttle).toMatchObject({
      state: 'paused',
      until: new Date(T0 + 4000 + 30_000).toISOString(),
      reason: '5 failed attempts in a row (last: HTTP 500)',
    });
  });

  it('does not pause for a burst of failures at one moment: the streak must last', () => {
    const gate = createFlowGate();
    const e = ep();
    for (let i = 0; i < 50; i++) gate.observe(e, fail(), T0 + i * 10);
    expect(gate.stateOf(e, T0 + 500)).toBeUndefined();
    expect(gate.observe(e, fail(), T0 + 3000)?.throttle).toMatchObject({ state: 'paused' });
  });

  it('does not count first attempts toward the breaker: a flaky receiver takes the retries', () => {
    const gate = createFlowGate();
    const e = ep();
    for (let i = 0; i < 20; i++)
      gate.observe(
        e,
        { kind: 'failed', error: 'HTTP 500', timeout: false, durationMs: 5, firstAttempt: true },
        T0 + i * 500,
      );
    expect(gate.stateOf(e, T0 + 10_000)).toBeUndefined();
  });

  it('does not pause an endpoint whose failures are broken by a success', () => {
    const gate = createFlowGate();
    const e = ep();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 4; i++) gate.observe(e, fail(), T0 + round * 10_000 + i * 1000);
      gate.observe(e, ok(), T0 + round * 10_000 + 5000);
    }
    expect(gate.stateOf(e, T0 + 100)).toBeUndefined();
  });

  it("holds a paused endpoint's deliveries, lets one probe go at its time, and resumes at a ramp on success", () => {
    const gate = createFlowGate({ random: () => 0, resumePerSecond: 1 });
    const e = ep();
    for (let i = 0; i < 5; i++) gate.observe(e, fail(), T0 - 4000 + i * 1000);
    expect(gate.admit(e, 'shared', T0 + 1)).toMatchObject({ go: false, reason: 'paused', moveTo: 'isolated' });
    expect(gate.admit(e, 'isolated', T0 + 1)).toMatchObject({ go: false, reason: 'paused', waitMs: 29_999 });
    expect(gate.admit(e, 'isolated', T0 + 30_000)).toEqual({ go: true, probe: true });
    // Only one probe at a time.
    expect(gate.admit(e, 'isolated', T0 + 30_001)).toMatchObject({ go: false, reason: 'paused' });
    const resumed = gate.observe(e, ok(), T0 + 30_050);
    expect(resumed?.throttle).toMatchObject({ state: 'throttled', perSecond: 1 });
    expect(gate.admit(e, 'isolated', T0 + 30_100)).toEqual({ go: true });
    expect(gate.admit(e, 'isolated', T0 + 30_100)).toMatchObject({ go: false, reason: 'rate' });
  });

  it('doubles the wait after a failed probe', () => {
    const gate = createFlowGate({ random: () => 0 });
    const e = ep();
    for (let i = 0; i < 5; i++) gate.observe(e, fail(), T0 - 4000 + i * 1000);
    gate.admit(e, 'isolated', T0 + 30_000);
    const again = gate.observe(e, fail('timeout after 10000 ms'), T0 + 40_000);
    expect(again?.throttle).toMatchObject({
      state: 'paused',
      until: new Date(T0 + 40_000 + 60_000).toISOString(),
      probeEveryMs: 60_000,
      reason: 'a probe failed (last: timeout after 10000 ms)',
    });
  });

  it("adopts another container's pause from the endpoint record", () => {
    const gate = createFlowGate({ random: () => 0 });
    const paused: StoredThrottle = {
      state: 'paused',
      until: new Date(T0 + 10_000).toISOString(),
      reason: '5 failed attempts in a row',
      since: new Date(T0).toISOString(),
      probeEveryMs: 30_000,
    };
    const e = ep({ throttle: paused });
    expect(gate.admit(e, 'shared', T0 + 1)).toMatchObject({ go: false, moveTo: 'isolated' });
    expect(gate.admit(e, 'isolated', T0 + 1)).toMatchObject({ go: false, waitMs: 9999 });
    expect(gate.admit(e, 'isolated', T0 + 10_000)).toEqual({ go: true, probe: true });
  });

  it('does not re-adopt a state it has itself left', () => {
    const gate = createFlowGate({ calmToNormalMs: 1000 });
    const e = ep();
    const set = gate.observe(e, { kind: 'cut', durationMs: 1000 }, T0);
    const stale = ep({ throttle: set?.throttle ?? undefined });
    expect(gate.observe(stale, ok(), T0 + 2000)).toEqual({ throttle: null });
    expect(gate.admit(stale, 'shared', T0 + 2001)).toMatchObject({ go: true });
  });
});

describe('throttle view', () => {
  it('shows normal, with the configured limit when there is one', () => {
    expect(throttleView(undefined, null)).toEqual({ state: 'normal' });
    expect(throttleView(undefined, { perSecond: 5 })).toEqual({ state: 'normal', perSecond: 5 });
  });

  it('shows the lower of the adaptive rate and the limit while throttled', () => {
    const t: StoredThrottle = { state: 'throttled', perSecond: 8, reason: 'HTTP 429', since: 'x' };
    expect(throttleView(t, { perSecond: 5 })).toEqual({ state: 'throttled', perSecond: 5, reason: 'HTTP 429' });
    expect(throttleView(t, null)).toEqual({ state: 'throttled', perSecond: 8, reason: 'HTTP 429' });
  });
});

/**
 * A receiver that accepts 10 requests in any second and answers 429 (Retry-After: 1) past that,
 * fed the way the worker feeds it: first attempts all at once on the shared lane (20 in flight
 * before the first answer), retries 5 s after a 429, deferred deliveries back at their time.
 */
function simulate429Receiver(opts: { events: number; limitPerSecond: number }) {
  const gate = createFlowGate({ laneConcurrency: { isolated: 1, ordered: 1 }, random: () => 0.5 });
  const e = ep();
  const latencyMs = 20;
  type Ev =
    { at: number; kind: 'deliver'; lane: Lane; ticketAtMs?: number } | { at: number; kind: 'answer'; status: number };
  const queue: Ev[] = [];
  for (let i = 0; i < opts.events; i++)
    queue.push({ at: T0 + Math.floor(i / 20) * latencyMs, kind: 'deliver', lane: 'shared' });
  const accepted: number[] = [];
  let requests = 0;
  let tooMany = 0;
  let delivered = 0;
  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at);
    const ev = queue.shift() as Ev;
    const now = ev.at;
    if (ev.kind === 'answer') {
      const signal: FlowSignal =
        ev.status === 429
          ? { kind: 'congested', statusCode: 429, retryAfterS: 1, durationMs: latencyMs }
          : { kind: 'success', durationMs: latencyMs };
      gate.observe(e, signal, now);
      if (ev.status === 429) queue.push({ at: now + 5000, kind: 'deliver', lane: 'shared' });
      else delivered++;
      continue;
    }
    const a = gate.admit(e, ev.lane, now, { ticketAtMs: ev.ticketAtMs });
    if (!a.go) {
      // Deferred on the isolation lane: SQS delays in whole seconds, the worker waits for the rest.
      queue.push({ at: now + a.waitMs, kind: 'deliver', lane: a.moveTo ?? ev.lane, ticketAtMs: a.ticketAtMs });
      continue;
    }
    const sendAt = now + (a.sleepMs ?? 0);
    requests++;
    while (accepted.length > 0 && (accepted[0] as number) <= sendAt - 1000) accepted.shift();
    if (accepted.length >= opts.limitPerSecond) {
      tooMany++;
      queue.push({ at: sendAt + latencyMs, kind: 'answer', status: 429 });
    } else {
      accepted.push(sendAt);
      queue.push({ at: sendAt + latencyMs, kind: 'answer', status: 200 });
    }
  }
  return { requests, tooMany, delivered };
}

describe('flow gate: the ordered lane', () => {
  it('paces held heads without reservations that lapse: a head waits for a token due within the second, others come back', () => {
    // 2/s over an ordered lane of concurrency 1: this container's share is the whole rate.
    const gate = createFlowGate({ laneConcurrency: { isolated: 2, ordered: 1 }, random: () => 0 });
    const e = { ...ep(), rateLimit: { perSecond: 2 } };
    const sent: number[] = [];
    // Eight heads (eight keys), each coming back when told, for ten seconds.
    let due = Array.from({ length: 8 }, () => T0);
    for (let t = T0; t < T0 + 10_000; t += 10) {
      due = due.flatMap((at) => {
        if (at > t) return [at];
        const a = gate.admit(e, 'ordered', t);
        if (a.go) {
          sent.push(t + (a.sleepMs ?? 0));
          return [];
        }
        expect(a.reason).toBe('rate');
        return [t + a.waitMs];
      });
    }
    // All eight went, never more than two in a second (plus the burst's one), and no later than
    // the rate allows: a lapsed reservation would have pushed the last ones out of the ten seconds.
    expect(sent).toHaveLength(8);
    for (const s of sent) expect(sent.filter((x) => x >= s && x < s + 1000).length).toBeLessThanOrEqual(3);
    expect(Math.max(...sent) - T0).toBeLessThan(4500);
  });
});
