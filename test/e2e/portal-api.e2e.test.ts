/**
 * The portal's API through the public HTTP interface: the event-type catalog, test events, and
 * portal links (scopes, read-only, ending them, the rate limit).
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { useSystem } from '../helpers/e2e';
import { apiClient } from '../helpers/target';

// A small bucket, so that the rate-limit test does not depend on how fast this machine answers.
const system = useSystem({ HOOKRELAY_PORTAL_RATE_LIMIT: '30,1' });
const unique = (base: string) => `${base}.${randomBytes(4).toString('hex')}`;

const orderSchema = {
  type: 'object',
  properties: { orderId: { type: 'string' }, total: { type: 'number', minimum: 0 } },
  required: ['orderId'],
};

describe('the event-type catalog', () => {
  it('is written by the admin and read by any key', async () => {
    const name = unique('order.created');
    const created = await system.api.call('POST', '/v1/event-types', {
      name,
      description: 'An order was placed',
      schema: orderSchema,
      examples: [{ orderId: 'o_1', total: 12.5 }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name, deprecated: false, examples: [{ orderId: 'o_1', total: 12.5 }] });

    const appId = await system.api.createApp();
    const key = await system.api.call<{ key: string }>('POST', `/v1/apps/${appId}/keys`, {});
    const app = apiClient({ apiUrl: system.target.apiUrl, apiKey: key.body.key });
    expect((await app.call('POST', '/v1/event-types', { name: unique('x') })).status).toBe(403);
    const one = await app.call('GET', `/v1/event-types/${name}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ schema: orderSchema });
    const all = await app.call<{ items: { name: string }[] }>('GET', '/v1/event-types?limit=250');
    expect(all.body.items.map((t) => t.name)).toContain(name);

    expect((await system.api.call('POST', '/v1/event-types', { name })).status).toBe(409);
    const patched = await system.api.call('PATCH', `/v1/event-types/${name}`, { deprecated: true });
    expect(patched.body).toMatchObject({ deprecated: true, schema: orderSchema });
    expect((await system.api.call('DELETE', `/v1/event-types/${name}`)).status).toBe(204);
    expect((await system.api.call('GET', `/v1/event-types/${name}`)).status).toBe(404);
  });

  it('refuses an invalid schema (400) and an example that does not validate (422), naming what is wrong', async () => {
    const bad = await system.api.call<{ error: { details: { path: string }[] } }>('POST', '/v1/event-types', {
      name: unique('bad'),
      schema: { type: 'objekt' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0]!.path).toMatch(/^schema/);

    const wrong = await system.api.call<{ error: { details: { path: string }[] } }>('POST', '/v1/event-types', {
      name: unique('wrong'),
      schema: orderSchema,
      examples: [{ orderId: 'o_1' }, { total: -1 }],
    });
    expect(wrong.status).toBe(422);
    expect(wrong.body.error.details.map((d) => d.path)).toEqual(expect.arrayContaining(['examples.1']));

    const name = unique('kept');
    await system.api.call('POST', '/v1/event-types', { name, schema: orderSchema, examples: [{ orderId: 'a' }] });
    // A new schema must still accept the examples kept.
    const patched = await system.api.call('PATCH', `/v1/event-types/${name}`, {
      schema: { ...orderSchema, required: ['orderId', 'total'] },
    });
    expect(patched.status).toBe(422);
  });
});

describe('test events', () => {
  it('sends the first example to that endpoint alone, marked as a test', async () => {
    const name = unique('invoice.paid');
    await system.api.call('POST', '/v1/event-types', {
      name,
      examples: [{ invoice: 'in_1' }, { invoice: 'in_2' }],
    });
    const appId = await system.api.createApp();
    const target = system.hook();
    const other = system.hook();
    const ep = await system.api.createEndpoint(appId, target);
    await system.api.createEndpoint(appId, other);

    const sent = await system.api.call<{ id: string }>('POST', `/v1/apps/${appId}/endpoints/${ep.id}/send-example`, {
      eventType: name,
    });
    expect(sent.status).toBe(202);
    await system.receiver.waitFor(() => system.receiver.on(target).length === 1, 20_000, 'the test event');
    const got = JSON.parse(system.receiver.on(target)[0]!.body) as { type: string; data: unknown };
    expect(got).toMatchObject({ type: name, data: { invoice: 'in_1' } });
    expect(got).not.toHaveProperty('test');

    const status = await system.api.waitForStatus(appId, sent.body.id, (s) => s.deliveries[0]?.status === 'succeeded');
    expect(status).toMatchObject({ test: true, deliveries: [{ endpointId: ep.id }] });
    expect(system.receiver.on(other)).toHaveLength(0);

    const none = await system.api.call('POST', `/v1/apps/${appId}/endpoints/${ep.id}/send-example`, {
      eventType: unique('missing'),
    });
    expect(none.status).toBe(422);
  });
});

describe('an endpoint’s log and statistics', () => {
  it('lists its deliveries newest first, filtered, a page at a time, and counts them', async () => {
    const appId = await system.api.createApp();
    const ok = await system.api.createEndpoint(appId, system.hook([200]));
    const other = await system.api.createEndpoint(appId, system.hook([410]));
    const sent: string[] = [];
    for (const type of ['a.one', 'a.two', 'a.one']) {
      const r = await system.api.sendEvent(appId, { type, data: { type } });
      sent.push(r.body.id);
      await system.api.waitForStatus(appId, r.body.id, (s) => s.deliveries.every((d) => d.status !== 'pending'));
    }
    type Page = {
      items: { eventId: string; eventType: string; status: string; lastStatusCode: number }[];
      nextCursor: string | null;
    };
    const path = `/v1/apps/${appId}/endpoints/${ok.id}`;
    const all = await system.api.call<Page>('GET', `${path}/deliveries`);
    expect(all.status).toBe(200);
    expect(all.body.items.map((d) => d.eventId)).toEqual([...sent].reverse());
    expect(all.body.items[0]).toMatchObject({ status: 'succeeded', lastStatusCode: 200, eventType: 'a.one' });

    const ones = await system.api.call<Page>('GET', `${path}/deliveries?eventType=a.one&status=succeeded`);
    expect(ones.body.items.map((d) => d.eventId)).toEqual([sent[2], sent[0]]);
    expect((await system.api.call<Page>('GET', `${path}/deliveries?status=failed`)).body.items).toEqual([]);
    const before = await system.api.call<Page>(
      'GET',
      `${path}/deliveries?until=2020-01-01T00:00:00Z&since=2019-01-01T00:00:00Z`,
    );
    expect(before.body.items).toEqual([]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: Page } = await system.api.call<Page>(
        'GET',
        `${path}/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((d) => d.eventId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...sent].reverse());

    const stats = await system.api.call<Record<string, unknown>>('GET', `${path}/stats`);
    expect(stats.body).toMatchObject({
      total: 3,
      byStatus: { succeeded: 3, failed: 0 },
      byStatusCode: { '200': 3 },
      successRate: 1,
      truncated: false,
    });
    expect((stats.body.latencyMs as { p50: number }).p50).toBeGreaterThanOrEqual(0);
    const gone = await system.api.call<Record<string, unknown>>('GET', `/v1/apps/${appId}/endpoints/${other.id}/stats`);
    expect(gone.body).toMatchObject({ byStatusCode: { '410': 1 } });

    expect((await system.api.call('GET', `${path}/deliveries?status=nope`)).status).toBe(400);
    expect((await system.api.call('GET', `${path}/deliveries?since=yesterday`)).status).toBe(400);
    expect((await system.api.call('GET', `${path}/deliveries?cursor=abc`)).status).toBe(400);
    expect((await system.api.call('GET', `/v1/apps/${appId}/endpoints/ep_missing/stats`)).status).toBe(404);
  });
});

describe('portal links', () => {
  let appA: string;
  let appB: string;
  let endpointB: string;
  let appKeyA: string;

  beforeAll(async () => {
    appA = await system.api.createApp('portal A');
    appB = await system.api.createApp('portal B');
    endpointB = (await system.api.createEndpoint(appB, system.hook())).id;
    appKeyA = (await system.api.call<{ key: string }>('POST', `/v1/apps/${appA}/keys`, {})).body.key;
  });

  const mint = async (body: unknown, key = appKeyA, appId = appA) => {
    const r = await apiClient({ apiUrl: system.target.apiUrl, apiKey: key }).call<{
      url: string;
      token: string;
      expiresAt: string;
    }>('POST', `/v1/apps/${appId}/portal-access`, body);
    return r;
  };
  const as = (token: string) => apiClient({ apiUrl: system.target.apiUrl, apiKey: token });

  it('are minted by the app’s key with the token in the URL fragment, a day by default', async () => {
    const r = await mint({});
    expect(r.status).toBe(201);
    expect(r.body.url).toBe(`${system.target.apiUrl}/portal#token=${r.body.token}`);
    expect(r.body.token).toMatch(/^hrp_[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(r.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(86_390_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
    const session = await as(r.body.token).call('GET', '/v1/portal/session');
    expect(session.body).toEqual({ appId: appA, capabilities: ['read'], expiresAt: r.body.expiresAt });
    for (const body of [{ ttlSeconds: 60 }, { ttlSeconds: 604_801 }, { capabilities: ['manage'] }, { x: 1 }]) {
      expect((await mint(body)).status, JSON.stringify(body)).toBe(400);
    }
  });

  it('read-only: reads the app, changes nothing (403)', async () => {
    const ep = await system.api.createEndpoint(appA, system.hook());
    const read = as((await mint({ capabilities: ['read'] })).body.token);
    expect((await read.call('GET', `/v1/apps/${appA}/endpoints`)).status).toBe(200);
    expect((await read.call('GET', '/v1/event-types')).status).toBe(200);
    expect((await read.call('PATCH', `/v1/apps/${appA}/endpoints/${ep.id}`, { enabled: false })).status).toBe(403);
    expect((await read.call('GET', `/v1/apps/${appA}/endpoints/${ep.id}/secret`)).status).toBe(403);
    expect((await read.call('POST', `/v1/apps/${appA}/endpoints`, { url: system.hook() })).status).toBe(403);
    expect((await read.call('DELETE', `/v1/apps/${appA}/endpoints/${ep.id}`)).status).toBe(403);
    const still = await system.api.call<{ enabled: boolean }>('GET', `/v1/apps/${appA}/endpoints/${ep.id}`);
    expect(still.body.enabled).toBe(true);
  });

  it('manage: changes endpoints, never keys, events or other links', async () => {
    const manage = as((await mint({ capabilities: ['read', 'manage'] })).body.token);
    const ep = await manage.call<{ id: string }>('POST', `/v1/apps/${appA}/endpoints`, { url: system.hook() });
    expect(ep.status).toBe(201);
    expect((await manage.call('GET', `/v1/apps/${appA}/endpoints/${ep.body.id}/secret`)).status).toBe(200);
    expect((await manage.call('POST', `/v1/apps/${appA}/keys`, {})).status).toBe(403);
    expect((await manage.call('POST', `/v1/apps/${appA}/events`, { type: 'a', data: {} })).status).toBe(403);
    expect((await manage.call('POST', `/v1/apps/${appA}/portal-access`, {})).status).toBe(403);
    expect((await manage.call('POST', '/v1/event-types', { name: unique('p') })).status).toBe(403);
  });

  it('see every other app as missing (404)', async () => {
    const manage = as((await mint({ capabilities: ['read', 'manage'] })).body.token);
    for (const [method, path] of [
      ['GET', `/v1/apps/${appB}`],
      ['GET', `/v1/apps/${appB}/endpoints`],
      ['GET', `/v1/apps/${appB}/endpoints/${endpointB}`],
      ['PATCH', `/v1/apps/${appB}/endpoints/${endpointB}`],
      ['POST', `/v1/apps/${appB}/portal-access`],
    ] as const) {
      const r = await manage.call(method, path, method === 'GET' ? undefined : { enabled: false });
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    // Minting for another app with A's key is a 404 too.
    expect((await mint({}, appKeyA, appB)).status).toBe(404);
  });

  it('all end at once, and say so; links minted afterwards work', async () => {
    const before = (await mint({})).body.token;
    expect((await as(before).call('GET', `/v1/apps/${appA}`)).status).toBe(200);
    const ended = await apiClient({ apiUrl: system.target.apiUrl, apiKey: appKeyA }).call(
      'DELETE',
      `/v1/apps/${appA}/portal-access`,
    );
    expect(ended.status).toBe(204);
    const refused = await as(before).call<{ error: { message: string } }>('GET', `/v1/apps/${appA}`);
    expect(refused.status).toBe(401);
    expect(refused.body.error.message).toMatch(/ended/);
    const after = (await mint({})).body.token;
    expect((await as(after).call('GET', `/v1/apps/${appA}`)).status).toBe(200);
  });

  it('are rate-limited per link: 429 with Retry-After once the burst is spent', async () => {
    const token = (await mint({})).body.token;
    const other = (await mint({})).body.token;
    const statuses = await Promise.all(
      Array.from({ length: 60 }, () =>
        fetch(`${system.target.apiUrl}/v1/portal/session`, { headers: { authorization: `Bearer ${token}` } }),
      ),
    );
    const limited = statuses.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Another link has its own bucket; an app key is not limited here.
    expect((await as(other).call('GET', '/v1/portal/session')).status).toBe(200);
  });
});
