/**
 * Flow control through the public API: `rateLimit` on create and PATCH, the endpoint view's
 * `throttle`, and bad values refused with a 400 naming the field.
 */
import { describe, expect, it } from 'vitest';
import { useSystem } from '../helpers/e2e';

const system = useSystem();
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
