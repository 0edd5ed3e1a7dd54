/**
 * The management API through the public HTTP interface: app-scoped keys and tenant isolation,
 * endpoint lifecycle, secret rotation, resend, recover, and the catch-up feed.
 */
import { Webhook } from 'standardwebhooks';
import { beforeAll, describe, expect, it } from 'vitest';
import { servedRoutes } from '../helpers/api-handler';
import { sleep, useSystem } from '../helpers/e2e';
import { testApi, type Api } from '../helpers/target';

const routes = await servedRoutes();
const system = useSystem();
const hook = system.hook;

async function newKey(appId: string) {
  const r = await system.api.hr.POST('/v1/apps/{appId}/keys', { params: { path: { appId } }, body: { name: 'ci' } });
  expect(r.response.status).toBe(201);
  expect(r.data?.key).toMatch(/^hrk_/);
  return r.data!;
}

/** The typed client's parameters for an app's routes, and for one endpoint's. */
const app = (appId: string) => ({ params: { path: { appId } } });
const at = (appId: string, endpointId: string) => ({ params: { path: { appId, endpointId } } });
const ofEvent = (appId: string, eventId: string) => ({ params: { path: { appId, eventId } } });

describe('app-scoped keys', () => {
  let appA: string;
  let appB: string;
  let scoped: Api;
  const idsB: Record<string, string> = {};

  beforeAll(async () => {
    appA = await system.api.createApp('tenant A');
    appB = await system.api.createApp('tenant B');
    scoped = testApi({ apiUrl: system.target.apiUrl, apiKey: (await newKey(appA)).key });
    const ep = await system.api.createEndpoint(appB, hook());
    const ev = await system.api.sendEvent(appB, { type: 'b.thing', data: {} });
    const key = await newKey(appB);
    Object.assign(idsB, { appId: appB, endpointId: ep.id, eventId: ev.id, keyId: key.id });
  });

  it('reads and writes its own app', async () => {
    expect((await scoped.hr.GET('/v1/apps/{appId}', app(appA))).response.status).toBe(200);
    const ep = await scoped.createEndpoint(appA, hook());
    const sent = await scoped.hr.POST('/v1/apps/{appId}/events', {
      ...app(appA),
      body: { type: 'a.thing', data: { x: 1 } },
    });
    expect(sent.response.status).toBe(202);
    expect((await scoped.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}', at(appA, ep.id))).response.status).toBe(200);
  });

  it('may not create apps or keys (403)', async () => {
    expect((await scoped.hr.POST('/v1/apps', { body: { name: 'x' } })).response.status).toBe(403);
    expect((await scoped.hr.POST('/v1/apps/{appId}/keys', { ...app(appA), body: {} })).response.status).toBe(403);
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
    const link = await system.api.hr.POST('/v1/apps/{appId}/portal-access', {
      ...app(appA),
      body: { capabilities: ['read', 'manage'] },
    });
    const portal = testApi({ apiUrl: system.target.apiUrl, apiKey: link.data!.token });
    for (const caller of [scoped, portal]) {
      for (const r of appRoutes) {
        const path = r.path.replace(/\{(\w+)\}/g, (_m, name: string) => idsB[name] ?? 'x');
        const body = r.method === 'POST' || r.method === 'PATCH' ? {} : undefined;
        // Walked from the route table, so outside the typed client.
        const res = await caller.raw(r.method, path, body);
        expect(res.status, `${r.method} ${r.path}`).toBe(404);
        expect(res.body).toMatchObject({ error: { code: 'not_found' } });
      }
    }
    // ...and nothing of app B changed.
    const still = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}', at(appB, idsB.endpointId!));
    expect(still.response.status).toBe(200);
  });

  it('stops working at once when revoked', async () => {
    const key = await newKey(appA);
    const holder = testApi({ apiUrl: system.target.apiUrl, apiKey: key.key });
    const revoke = () =>
      system.api.hr.DELETE('/v1/apps/{appId}/keys/{keyId}', { params: { path: { appId: appA, keyId: key.id } } });
    expect((await holder.hr.GET('/v1/apps/{appId}', app(appA))).response.status).toBe(200);
    expect((await revoke()).response.status).toBe(204);
    expect((await holder.hr.GET('/v1/apps/{appId}', app(appA))).response.status).toBe(401);
    expect((await revoke()).response.status).toBe(404);
  });
});

describe('endpoints', () => {
  it('pages through the endpoints of an app with a cursor', async () => {
    const appId = await system.api.createApp();
    const created: string[] = [];
    for (let i = 0; i < 7; i++) created.push((await system.api.createEndpoint(appId, hook())).id);
    const seen: string[] = [];
    const list = (cursor: string | null) =>
      system.api.hr.GET('/v1/apps/{appId}/endpoints', {
        params: { path: { appId }, query: { limit: 3, ...(cursor ? { cursor } : {}) } },
      });
    let cursor: string | null = null;
    do {
      const page = await list(cursor);
      expect(page.response.status).toBe(200);
      expect(page.data!.items.length).toBeLessThanOrEqual(3);
      seen.push(...page.data!.items.map((e) => e.id));
      cursor = page.data!.nextCursor;
    } while (cursor);
    expect(seen.sort()).toEqual(created.sort());
  });

  it('updates, disables and deletes an endpoint; deliveries to a disabled one are skipped', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url);
    const route = '/v1/apps/{appId}/endpoints/{endpointId}';
    const patched = await system.api.hr.PATCH(route, {
      ...at(appId, ep.id),
      body: { description: 'orders', eventTypes: ['order.created'], enabled: false },
    });
    expect(patched.response.status).toBe(200);
    expect(patched.data).toMatchObject({ description: 'orders', eventTypes: ['order.created'], enabled: false });
    expect((await system.api.hr.PATCH(route, { ...at(appId, ep.id), body: {} })).response.status).toBe(400);

    const sent = await system.api.sendEvent(appId, { type: 'order.created', data: {} });
    expect(sent.deliveries).toBe(0);
    const status = await system.api.eventStatus(appId, sent.id);
    expect(status.deliveries).toEqual([expect.objectContaining({ endpointId: ep.id, status: 'skipped', attempts: 0 })]);

    expect((await system.api.hr.DELETE(route, at(appId, ep.id))).response.status).toBe(204);
    expect((await system.api.hr.GET(route, at(appId, ep.id))).response.status).toBe(404);
    expect((await system.api.hr.DELETE(route, at(appId, ep.id))).response.status).toBe(404);
    expect(system.receiver.on(url)).toHaveLength(0);
  });

  it('disables an endpoint that answers 410 Gone, and says why', async () => {
    const appId = await system.api.createApp();
    const ep = await system.api.createEndpoint(appId, hook([410]));
    const sent = await system.api.sendEvent(appId, { type: 'x', data: {} });
    await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'failed');
    const got = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}', at(appId, ep.id));
    expect(got.data?.enabled).toBe(false);
    expect(got.data?.disabledReason).toContain('410');
  });
});

describe('secret rotation', () => {
  it('signs with both secrets during the overlap, each verifying under its own secret', async () => {
    const appId = await system.api.createApp();
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url);
    const rotated = await system.api.hr.POST('/v1/apps/{appId}/endpoints/{endpointId}/secret/rotate', at(appId, ep.id));
    expect(rotated.response.status).toBe(200);
    const newSecret = rotated.data!.key;
    expect(newSecret).not.toBe(ep.secret);
    const now = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/secret', at(appId, ep.id));
    expect(now.data?.key).toBe(newSecret);

    await system.api.sendEvent(appId, { type: 'x', data: { n: 1 } });
    await system.receiver.waitFor(() => system.receiver.on(url).length === 1);
    const got = system.receiver.on(url)[0]!;
    const signatures = got.headers['webhook-signature']!.split(' ');
    expect(signatures).toHaveLength(2);
    for (const secret of [ep.secret, newSecret]) {
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
    await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'succeeded');

    const resent = await system.api.hr.POST('/v1/apps/{appId}/events/{eventId}/resend', {
      ...ofEvent(appId, sent.id),
      body: { endpointId: ep.id },
    });
    expect(resent.response.status).toBe(202);
    expect(resent.data?.deliveries).toBe(1);
    await system.receiver.waitFor(() => system.receiver.on(url).length === 2);
    expect(system.receiver.on(url).map((r) => r.headers['webhook-id'])).toEqual([sent.id, sent.id]);
    const status = await system.api.waitForStatus(
      appId,
      sent.id,
      (s) => s.deliveries[0]?.attempts === 2 && s.deliveries[0].status === 'succeeded',
    );
    expect(status.deliveries[0]?.attempts).toBe(2);
    const attempts = await system.api.attempts(appId, sent.id);
    expect(attempts.map((a) => [a.attempt, a.outcome, a.statusCode])).toEqual([
      [1, 'succeeded', 200],
      [2, 'succeeded', 200],
    ]);
  });

  it('resends to an endpoint created after the event', async () => {
    const appId = await system.api.createApp();
    const sent = await system.api.sendEvent(appId, { type: 'x', data: {} });
    expect(sent.deliveries).toBe(0);
    const url = hook();
    const ep = await system.api.createEndpoint(appId, url);
    const resent = await system.api.hr.POST('/v1/apps/{appId}/events/{eventId}/resend', {
      ...ofEvent(appId, sent.id),
      body: { endpointId: ep.id },
    });
    expect(resent.data?.deliveries).toBe(1);
    await system.receiver.waitFor(() => system.receiver.on(url).length === 1);
    expect(system.receiver.on(url)[0]!.headers['webhook-id']).toBe(sent.id);
  });

  it('recovers what failed since a time, once the endpoint is fixed and re-enabled', async () => {
    const appId = await system.api.createApp();
    const path = new URL(hook([410])).pathname;
    const url = `${system.receiver.baseUrl.replace('127.0.0.1', system.target.receiverHost)}${path}`;
    const ep = await system.api.createEndpoint(appId, url);
    const since = new Date(Date.now() - 1000).toISOString();
    const first = await system.api.sendEvent(appId, { type: 'x', data: { n: 1 } });
    await system.api.waitForStatus(appId, first.id, (s) => s.deliveries[0]?.status === 'failed');
    const second = await system.api.sendEvent(appId, { type: 'x', data: { n: 2 } }); // skipped: endpoint disabled
    await system.api.waitForStatus(appId, second.id, (s) => s.deliveries[0]?.status === 'skipped');

    const recover = (from: string) =>
      system.api.hr.POST('/v1/apps/{appId}/endpoints/{endpointId}/recover', {
        ...at(appId, ep.id),
        body: { since: from },
      });
    expect((await recover(since)).response.status).toBe(409);
    system.receiver.script(path, [200]);
    const enabled = await system.api.hr.PATCH('/v1/apps/{appId}/endpoints/{endpointId}', {
      ...at(appId, ep.id),
      body: { enabled: true },
    });
    expect(enabled.response.status).toBe(200);
    const recovered = await recover(since);
    expect(recovered.response.status).toBe(202);
    expect(recovered.data).toEqual({ recovered: 2, more: false });

    await system.api.waitForStatus(appId, first.id, (s) => s.deliveries[0]?.status === 'succeeded');
    await system.api.waitForStatus(appId, second.id, (s) => s.deliveries[0]?.status === 'succeeded');
    const again = await recover(since);
    expect(again.data?.recovered).toBe(0);
    expect((await recover('yesterday')).response.status).toBe(400);
  });
});

describe("an app's event shards", () => {
  it('are raised by the admin key only, never lowered, and the feed reads every shard in order', async () => {
    const appId = await system.api.createApp();
    const put = (client: Api, eventShards: unknown) =>
      client.hr.PUT('/v1/apps/{appId}/event-shards', {
        ...app(appId),
        body: { eventShards } as { eventShards: number },
      });
    const before = (await system.api.sendEvent(appId, { type: 'feed.item', data: { i: -1 } })).id;

    const raised = await put(system.api, 4);
    expect(raised.response.status).toBe(200);
    expect(raised.data?.eventShards).toBe(4);
    expect((await system.api.hr.GET('/v1/apps/{appId}', app(appId))).data?.eventShards).toBe(4);
    expect((await put(system.api, 2)).response.status).toBe(409);
    expect((await put(system.api, 4)).response.status).toBe(200);
    expect((await put(system.api, 33)).response.status).toBe(400);
    const scoped = testApi({ apiUrl: system.target.apiUrl, apiKey: (await newKey(appId)).key });
    expect((await put(scoped, 8)).response.status).toBe(403);

    await sleep(1100); // a busy app's writers see the raise within a second
    const sent = [before];
    for (let i = 0; i < 16; i++) sent.push((await system.api.sendEvent(appId, { type: 'feed.item', data: { i } })).id);
    await sleep(2500); // the feed's settle window
    const readPage = async (after: string | null) => {
      const r = await system.api.hr.GET('/v1/apps/{appId}/events', {
        params: { path: { appId }, query: { limit: 5, ...(after ? { after } : {}) } },
      });
      return r.data!;
    };
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let n = 0; n < 20; n++) {
      const page = await readPage(cursor);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
      if (page.items.length === 0) break;
    }
    expect(seen).toEqual(sent);
    // Spread over more than one partition: their ids name their shards.
    expect(new Set(sent.map((id) => (id.length === before.length ? 0 : id.at(-1)))).size).toBeGreaterThan(1);
  });
});

describe('the catch-up feed', () => {
  it('pages through every event exactly once, oldest first, and continues from its cursor', async () => {
    const appId = await system.api.createApp();
    const sent: string[] = [];
    for (let i = 0; i < 23; i++) sent.push((await system.api.sendEvent(appId, { type: 'feed.item', data: { i } })).id);
    await sleep(2500); // the feed's settle window

    async function readAll(after: string | null) {
      const ids: string[] = [];
      let cursor = after;
      for (let page = 0; page < 20; page++) {
        const r = await system.api.hr.GET('/v1/apps/{appId}/events', {
          params: { path: { appId }, query: { limit: 5, ...(cursor ? { after: cursor } : {}) } },
        });
        expect(r.response.status).toBe(200);
        ids.push(...r.data!.items.map((e) => e.id));
        cursor = r.data!.nextCursor;
        if (r.data!.items.length === 0) break;
      }
      return { ids, cursor };
    }

    const all = await readAll(null);
    expect(all.ids).toEqual(sent);
    expect(all.cursor).not.toBeNull();

    const more: string[] = [];
    for (let i = 0; i < 4; i++)
      more.push((await system.api.sendEvent(appId, { type: 'feed.item', data: { i: 100 + i } })).id);
    await sleep(2500);
    const next = await readAll(all.cursor);
    expect(next.ids).toEqual(more);
    const bad = await system.api.hr.GET('/v1/apps/{appId}/events', {
      params: { path: { appId }, query: { after: 'not-a-cursor' } },
    });
    expect(bad.response.status).toBe(400);
  });
});
