/**
 * Flow control through the public API: `rateLimit` on create and PATCH, the endpoint view's
 * `throttle`, and bad values refused with a 400 naming the field; then on the local stack, which
 * runs the event sources' batches and concurrency as Lambda does: a rate limit holds, a hanging
 * neighbour does not delay a healthy endpoint, and a failing endpoint is paused.
 */
import { describe, expect, it } from 'vitest';
import { sleep, useSystem } from '../helpers/e2e';

const TIMEOUT_MS = 4000;
const SCHEDULE = [1, 1, 2, 4, 8];
const system = useSystem({
  HOOKRELAY_RETRY_SCHEDULE: SCHEDULE.join(','),
  HOOKRELAY_DELIVERY_TIMEOUT_MS: String(TIMEOUT_MS),
});
const hook = system.hook;
const route = '/v1/apps/{appId}/endpoints/{endpointId}';
const at = (appId: string, endpointId: string) => ({ params: { path: { appId, endpointId } } });

describe('rate limit and throttle state', () => {
  it('takes rateLimit on create and PATCH, shows it, and removes it with null', async () => {
    const appId = await system.api.createApp();
    const created = await system.api.hr.POST('/v1/apps/{appId}/endpoints', {
      params: { path: { appId } },
      body: { url: hook(), rateLimit: { perSecond: 2.5 } },
    });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({
      rateLimit: { perSecond: 2.5 },
      throttle: { state: 'normal', perSecond: 2.5 },
    });
    const id = created.data!.id;

    const patched = await system.api.hr.PATCH(route, { ...at(appId, id), body: { rateLimit: { perSecond: 40 } } });
    expect(patched.data).toMatchObject({ rateLimit: { perSecond: 40 }, throttle: { state: 'normal', perSecond: 40 } });

    const removed = await system.api.hr.PATCH(route, { ...at(appId, id), body: { rateLimit: null } });
    expect(removed.data).toMatchObject({ rateLimit: null, throttle: { state: 'normal' } });
    expect(removed.data!.throttle.perSecond).toBeUndefined();

    const plain = await system.api.createEndpoint(appId, hook());
    expect(plain).toMatchObject({ rateLimit: null, throttle: { state: 'normal' } });
  });

  it('refuses a rate out of 0.1..1000, or not a number, naming rateLimit.perSecond', async () => {
    const appId = await system.api.createApp();
    for (const rateLimit of [
      { perSecond: 0.05 },
      { perSecond: 1001 },
      { perSecond: '5' },
      {},
      { perSecond: 5, burst: 1 },
    ]) {
      const r = await system.api.hr.POST('/v1/apps/{appId}/endpoints', {
        params: { path: { appId } },
        body: { url: hook(), rateLimit } as never,
      });
      expect(r.response.status, JSON.stringify(rateLimit)).toBe(400);
      expect(JSON.stringify(r.error), JSON.stringify(rateLimit)).toContain('rateLimit');
    }
    const ep = await system.api.createEndpoint(appId, hook());
    const bad = await system.api.hr.PATCH(route, { ...at(appId, ep.id), body: { rateLimit: { perSecond: -1 } } });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.error.details).toEqual([
      { path: 'rateLimit.perSecond', message: 'must be at least 0.1 (one request every 10 s)' },
    ]);
  });
});

/** Waits (bounded) until `check` holds. */
async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('flow control on the local stack', () => {
  it('sends a rate-limited endpoint no more than its rate, and delivers everything', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    const ep = await system.api.hr.POST('/v1/apps/{appId}/endpoints', {
      params: { path: { appId } },
      body: { url, rateLimit: { perSecond: 4 } },
    });
    expect(ep.response.status).toBe(201);
    const events = 14;
    const sent = await system.api.hr.POST('/v1/apps/{appId}/events/batch', {
      params: { path: { appId } },
      body: { events: Array.from({ length: events }, (_, i) => ({ type: 'rate.test', data: { i } })) },
    });
    expect(sent.response.status).toBe(202);
    await until(() => system.receiver.on(url).length >= events, 20_000, 'every event at the rate-limited endpoint');
    const at = system.receiver.on(url).map((r) => r.at);
    // After the first second, no second holds more than 4 (+1: a window may hold both ends of a
    // 250 ms spacing). The first may hold two more: the local runtime runs both isolation-lane
    // batches in one process, and the share grows to the second one's as it starts
    // (docs/flow-control.md).
    const t0 = Math.min(...at);
    const shown = at.map((t) => t - t0).join(',');
    for (const start of at) {
      const inSecond = at.filter((t) => t >= start && t < start + 1000).length;
      expect(inSecond, shown).toBeLessThanOrEqual(start < t0 + 1000 ? 7 : 5);
    }
    expect(Math.max(...at) - Math.min(...at)).toBeGreaterThanOrEqual(((events - 5) / 4) * 1000);
    // Waiting for the rate is no failed attempt: each went once.
    expect(new Set(system.receiver.on(url).map((r) => r.headers['webhook-id'])).size).toBe(events);
  });

  it("keeps a healthy endpoint's latency while a neighbour's endpoint hangs", async () => {
    const neighbour = await system.api.createApp();
    const hanging = hook([{ fault: 'hang' }]);
    await system.api.createEndpoint(neighbour, hanging);
    const healthyApp = await system.api.createApp();
    const healthy = hook();
    await system.api.createEndpoint(healthyApp, healthy);

    // A burst of 40 to the hanging endpoint: before flow control, each batch of it held a
    // shared poller for the whole timeout, and the healthy events queued behind.
    await system.api.hr.POST('/v1/apps/{appId}/events/batch', {
      params: { path: { appId: neighbour } },
      body: { events: Array.from({ length: 40 }, (_, i) => ({ type: 'noisy', data: { i } })) },
    });
    await sleep(1500);
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const before = system.receiver.on(healthy).length;
      const t0 = Date.now();
      await system.api.sendEvent(healthyApp, { type: 'quiet', data: { i } });
      await until(() => system.receiver.on(healthy).length > before, 15_000, 'the healthy webhook');
      latencies.push(system.receiver.on(healthy).at(-1)!.at - t0);
      await sleep(100);
    }
    latencies.sort((a, b) => a - b);
    // Far below the hanging endpoint's 4 s timeout, which the healthy webhooks used to wait out.
    expect(latencies[8]).toBeLessThan(1000);
    // The hanging endpoint was moved off the shared lanes.
    const view = await system.api.hr.GET('/v1/apps/{appId}/endpoints', { params: { path: { appId: neighbour } } });
    expect(view.data!.items[0]!.throttle.state).not.toBe('normal');
  });

  it('pauses an endpoint whose attempts keep failing, and fails its deliveries when their window ends', async () => {
    const appId = await system.api.createApp();
    const url = hook([500]);
    const ep = await system.api.createEndpoint(appId, url);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await system.api.sendEvent(appId, { type: 'fail', data: { i } })).id);
    await until(
      async () => (await system.api.hr.GET(route, at(appId, ep.id))).data?.throttle.state === 'paused',
      15_000,
      'the endpoint to be paused',
    );
    const view = (await system.api.hr.GET(route, at(appId, ep.id))).data!;
    // Paused after 5 failures in a row, then by each failed probe.
    expect(view.throttle).toMatchObject({ state: 'paused', reason: expect.stringMatching(/failed.*HTTP 500/) });
    expect(Date.parse(view.throttle.until!)).toBeGreaterThan(Date.now());
    // Every delivery ends failed (the probes fail too, and their window ends while paused), with
    // fewer requests than 8 deliveries x 6 attempts: paused, they waited unattempted.
    await until(
      async () => {
        for (const id of ids) {
          const s = await system.api.eventStatus(appId, id);
          if (s.deliveries[0]?.status !== 'failed') return false;
        }
        return true;
      },
      40_000,
      'every delivery to end failed',
    );
    // A delivery failed by its window's end while paused says so in its status (no attempt does).
    const reasons = await Promise.all(ids.map(async (id) => (await system.api.eventStatus(appId, id)).deliveries[0]));
    const ended = reasons.filter((d) => d?.reason !== undefined);
    expect(ended.length).toBeGreaterThan(0);
    for (const d of ended)
      expect(d!.reason).toMatch(/^the retry window ended while the endpoint was paused, after \d+ attempts$/);
    expect(system.receiver.on(url).length).toBeLessThan(8 * (SCHEDULE.length + 1));
  }, 60_000);
});
