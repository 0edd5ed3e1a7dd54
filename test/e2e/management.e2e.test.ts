/**
 * The management API through the public HTTP interface: app-scoped keys and tenant isolation,
 * endpoint lifecycle, secret rotation, resend, recover, and the catch-up feed.
 */
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { routes } from '../../functions/handlers/api';
import { sleep, useSystem } from '../helpers/e2e';
import { apiClient } from '../helpers/target';

const system = useSystem();
const hook = system.hook;

async function newKey(appId: string) {
  const r = await system.api.call<{ id: string; key: string }>('POST', `/v1/apps/${appId}/keys`, { name: 'ci' });
  expect(r.status).toBe(201);
  expect(r.body.key).toMatch(/^hrk_/);
  return r.body;
}

describe('app-scoped keys', () => {
  let appA: string;
  let appB: string;
  let scoped: ReturnType<typeof apiClient>;
  const idsB: Record<string, string> = {};

  beforeAll(async () => {
    appA = await system.api.createApp('tenant A');
    appB = await system.api.createApp('tenant B');
    scoped = apiClient({ apiUrl: system.target.apiUrl, apiKey: (await newKey(appA)).key });
    const ep = await system.api.createEndpoint(appB, hook());
    const ev = await system.api.sendEvent(appB, { type: 'b.thing', data: {} });
    const key = await newKey(appB);
    Object.assign(idsB, { appId: appB, endpointId: ep.id, eventId: ev.body.id, keyId: key.id });
  });

  it('reads and writes its own app', async () => {
    expect((await scoped.call('GET', `/v1/apps/${appA}`)).status).toBe(200);
    const ep = await scoped.createEndpoint(appA, hook());
    expect((await scoped.sendEvent(appA, { type: 'a.thing', data: { x: 1 } })).status).toBe(202);
    expect((await scoped.call('GET', `/v1/apps/${appA}/endpoints/${ep.id}`)).status).toBe(200);
  });

  it('may not create apps or keys (403)', async () => {
    expect((await scoped.call('POST', '/v1/apps', { name: 'x' })).status).toBe(403);
    expect((await scoped.call('POST', `/v1/apps/${appA}/keys`, {})).status).toBe(403);
  });

  it('gets 404 on every route of another app, as does a portal link of its app', async () => {
    const appRoutes = routes.filter((r) => r.path.includes('{appId}'));
    // Every other route is app-less: health, creating apps, the shared catalog, a link's session.
    const appless = routes.filter((r) => !r.path.includes('{appId}')).map((r) => `${r.method} ${r.path}`);
    expect(
      appless.filter(
        (r) => !/^(GET \/health|POST \/v1\/apps|\w+ \/v1\/event-types.*|GET \/v1\/portal\/session)$/.test(r),
      ),
    ).toEqual([]);
    const link = await system.api.call<{ token: string }>('POST', `/v1/apps/${appA}/portal-access`, {
      capabilities: ['read', 'manage'],
    });
    const portal = apiClient({ apiUrl: system.target.apiUrl, apiKey: link.body.token });
    for (const caller of [scoped, portal]) {
      for (const r of appRoutes) {
        const path = r.path.replace(/\{(\w+)\}/g, (_m, name: string) => idsB[name] ?? 'x');
        const body = r.method === 'POST' || r.method === 'PATCH' ? {} : undefined;
        const res = await caller.call(r.method, path, body);
        expect(res.status, `${r.method} ${r.path}`).toBe(404);
        expect(res.body).toMatchObject({ error: { code: 'not_found' } });
      }
    }
    // ...and nothing of app B changed.
    expect((await system.api.call('GET', `/v1/apps/${appB}/endpoints/${idsB.endpointId}`)).status).toBe(200);
  });

  it('stops working at once when revoked', async () => {
    const key = await newKey(appA);
    const holder = apiClient({ apiUrl: system.target.apiUrl, apiKey: key.key });
    expect((await holder.call('GET', `/v1/apps/${appA}`)).status).toBe(200);
    expect((await system.api.call('DELETE', `/v1/apps/${appA}/keys/${key.id}`)).status).toBe(204);
    expect((await holder.call('GET', `/v1/apps/${appA}`)).status).toBe(401);
    expect((await system.api.call('DELETE', `/v1/apps/${appA}/keys/${key.id}`)).status).toBe(404);
  });
});

describe('endpoints', () => {
  it('pages through the endpoints of an app with a cursor', async () => {
    const appId = await system.api.createApp();
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await system.api.createEndpoint(appId, hook())).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : '';
      const page = await system.api.call<{ items: { id: string }[]; nextCursor: string | null }>(
        'GET',
        `/v1/apps/${appId}/endpoints?limit=3${q}`,
      );
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.body.items.map((e) => e.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(created.sort());
  });

  it('updates, disables and deletes an endpoint; deliveries to a disabled one are skipped', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url);
    const patched = await system.api.call<{ eventTypes: string[]; enabled: boolean; description: string }>(
      'PATCH',
      `/v1/apps/${appId}/endpoints/${ep.id}`,
      { description: 'orders', eventTypes: ['order.created'], enabled: false },
    );
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: 'orders', eventTypes: ['order.created'], enabled: false });
    expect((await system.api.call('PATCH', `/v1/apps/${appId}/endpoints/${ep.id}`, {})).status).toBe(400);

    const sent = await system.api.sendEvent(appId, { type: 'order.created', data: {} });
    expect(sent.body.deliveries).toBe(0);
    const status = await system.api.eventStatus(appId, sent.body.id);
    expect(status.body.deliveries).toEqual([
      expect.objectContaining({ endpointId: ep.id, status: 'skipped', attempts: 0 }),
    ]);

    expect((await system.api.call('DELETE', `/v1/apps/${appId}/endpoints/${ep.id}`)).status).toBe(204);
    expect((await system.api.call('GET', `/v1/apps/${appId}/endpoints/${ep.id}`)).status).toBe(404);
    expect((await system.api.call('DELETE', `/v1/apps/${appId}/endpoints/${ep.id}`)).status).toBe(404);
    expect(system.receiver.on(url)).toHaveLength(0);
  });

  it('disables an endpoint that answers 410 Gone, and says why', async () => {
    const appId = await system.api.createApp();
    const ep = await system.api.createEndpoint(appId, hook([410]));
    const sent = await system.api.sendEvent(appId, { type: 'x', data: {} });
    await system.api.waitForStatus(appId, sent.body.id, (s) => s.deliveries[0]?.status === 'failed');
    const got = await system.api.call<{ enabled: boolean; disabledReason: string }>(
      'GET',
      `/v1/apps/${appId}/endpoints/${ep.id}`,
    );
    expect(got.body.enabled).toBe(false);
    expect(got.body.disabledReason).toContain('410');
  });
});

describe('secret rotation', () => {
  it('signs with both secrets during the overlap, each verifying under its own secret', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url);
    const rotated = await system.api.call<{ key: string }>(
      'POST',
      `/v1/apps/${appId}/endpoints/${ep.id}/secret/rotate`,
    );
    expect(rotated.status).toBe(200);
    expect(rotated.body.key).not.toBe(ep.secret);
    expect(
      (await system.api.call<{ key: string }>('GET', `/v1/apps/${appId}/endpoints/${ep.id}/secret`)).body.key,
    ).toBe(rotated.body.key);

    await system.api.sendEvent(appId, { type: 'x', data: { n: 1 } });
    await system.receiver.waitFor(() => system.receiver.on(url).length === 1);
    const got = system.receiver.on(url)[0]!;
    const signatures = got.headers['webhook-signature']!.split(' ');
    expect(signatures).toHaveLength(2);
    for (const secret of [ep.secret, rotated.body.key]) {
      expect(() => new Webhook(secret).verify(got.body, got.headers)).not.toThrow();
      // Each signature on its own verifies under exactly one of the two secrets.
      const alone = signatures.filter((sig) => {
        try {
          new Webhook(secret).verify(got.body, { ...got.headers, 'webhook-signature': sig });
          return true;
        } catch {
          return false;
        }
      });
      expect(alone).toHaveLength(1);
    }
  });
});

describe('resend and recover', () => {
  it('resends a delivered event with the same webhook-id', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url);
    const sent = await system.api.sendEvent(appId, { type: 'x', data: { n: 1 } });
    await system.api.waitForStatus(appId, sent.body.id, (s) => s.deliveries[0]?.status === 'succeeded');

    const resent = await system.api.call<{ deliveries: number }>(
      'POST',
      `/v1/apps/${appId}/events/${sent.body.id}/resend`,
      { endpointId: ep.id },
    );
    expect(resent.status).toBe(202);
    expect(resent.body.deliveries).toBe(1);
    await system.receiver.waitFor(() => system.receiver.on(url).length === 2);
    expect(system.receiver.on(url).map((r) => r.headers['webhook-id'])).toEqual([sent.body.id, sent.body.id]);
    const status = await system.api.waitForStatus(
      appId,
      sent.body.id,
      (s) => s.deliveries[0]?.attempts === 2 && s.deliveries[0].status === 'succeeded',
    );
    expect(status.deliveries[0]?.attempts).toBe(2);
    const attempts = await system.api.call<{ items: { attempt: number; outcome: string; statusCode: number }[] }>(
      'GET',
      `/v1/apps/${appId}/events/${sent.body.id}/attempts`,
    );
    expect(attempts.body.items.map((a) => [a.attempt, a.outcome, a.statusCode])).toEqual([
      [1, 'succeeded', 200],
      [2, 'succeeded', 200],
    ]);
  });

  it('resends to an endpoint created after the event', async () => {
    const appId = await system.api.createApp();
    const sent = await system.api.sendEvent(appId, { type: 'x', data: {} });
    expect(sent.body.deliveries).toBe(0);
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url);
    const resent = await system.api.call<{ deliveries: number }>(
      'POST',
      `/v1/apps/${appId}/events/${sent.body.id}/resend`,
      { endpointId: ep.id },
    );
    expect(resent.body.deliveries).toBe(1);
    await system.receiver.waitFor(() => system.receiver.on(url).length === 1);
    expect(system.receiver.on(url)[0]!.headers['webhook-id']).toBe(sent.body.id);
  });

  it('recovers what failed since a time, once the endpoint is fixed and re-enabled', async () => {
    const appId = await system.api.createApp();
    const path = new URL(hook([410])).pathname;
    const url = `${system.receiver.baseUrl.replace('127.0.0.1', system.target.receiverHost)}${path}`;
    const ep = await system.api.createEndpoint(appId, url);
    const since = new Date(Date.now() - 1000).toISOString();
    const first = await system.api.sendEvent(appId, { type: 'x', data: { n: 1 } });
    await system.api.waitForStatus(appId, first.body.id, (s) => s.deliveries[0]?.status === 'failed');
    const second = await system.api.sendEvent(appId, { type: 'x', data: { n: 2 } }); // skipped: endpoint disabled
    await system.api.waitForStatus(appId, second.body.id, (s) => s.deliveries[0]?.status === 'skipped');

    expect((await system.api.call('POST', `/v1/apps/${appId}/endpoints/${ep.id}/recover`, { since })).status).toBe(409);
    system.receiver.script(path, [200]);
    expect((await system.api.call('PATCH', `/v1/apps/${appId}/endpoints/${ep.id}`, { enabled: true })).status).toBe(
      200,
    );
    const recovered = await system.api.call<{ recovered: number; more: boolean }>(
      'POST',
      `/v1/apps/${appId}/endpoints/${ep.id}/recover`,
      { since },
    );
    expect(recovered.status).toBe(202);
    expect(recovered.body).toEqual({ recovered: 2, more: false });

    await system.api.waitForStatus(appId, first.body.id, (s) => s.deliveries[0]?.status === 'succeeded');
    await system.api.waitForStatus(appId, second.body.id, (s) => s.deliveries[0]?.status === 'succeeded');
    const again = await system.api.call<{ recovered: number }>('POST', `/v1/apps/${appId}/endpoints/${ep.id}/recover`, {
      since,
    });
    expect(again.body.recovered).toBe(0);
    expect(
      (await system.api.call('POST', `/v1/apps/${appId}/endpoints/${ep.id}/recover`, { since: 'yesterday' })).status,
    ).toBe(400);
  });
});

describe('the catch-up feed', () => {
  it('pages through every event exactly once, oldest first, and continues from its cursor', async () => {
    const appId = await system.api.createApp();
    const sent: string[] = [];
    for (let i = 0; i < 23; i++)
      sent.push((await system.api.sendEvent(appId, { type: 'feed.item', data: { i } })).body.id);
    await sleep(2500); // the feed's settle window

    async function readAll(after: string | null) {
      const ids: string[] = [];
      let cursor = after;
      for (let page = 0; page < 20; page++) {
        const q: string = cursor ? `&after=${cursor}` : '';
        const r = await system.api.call<{ items: { id: string; data: { i: number } }[]; nextCursor: string | null }>(
          'GET',
          `/v1/apps/${appId}/events?limit=5${q}`,
        );
        expect(r.status).toBe(200);
        ids.push(...r.body.items.map((e) => e.id));
        cursor = r.body.nextCursor;
        if (r.body.items.length === 0) break;
      }
      return { ids, cursor };
    }

    const all = await readAll(null);
    expect(all.ids).toEqual(sent);
    expect(all.cursor).not.toBeNull();

    const more: string[] = [];
    for (let i = 0; i < 4; i++)
      more.push((await system.api.sendEvent(appId, { type: 'feed.item', data: { i: 100 + i } })).body.id);
    await sleep(2500);
    const next = await readAll(all.cursor);
    expect(next.ids).toEqual(more);
    expect((await system.api.call('GET', `/v1/apps/${appId}/events?after=not-a-cursor`)).status).toBe(400);
  });
});
