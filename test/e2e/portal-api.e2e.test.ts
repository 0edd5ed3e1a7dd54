/**
 * The portal's API through the public HTTP interface: the event-type catalog, test events, and
 * portal links (scopes, read-only, ending them, the rate limit).
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { useSystem } from '../helpers/e2e';
import type { paths, RequestBody } from '../../client';
import { testApi } from '../helpers/target';

// A small bucket, so that the rate-limit test does not depend on how fast this machine answers.
const system = useSystem({ HOOKRELAY_PORTAL_RATE_LIMIT: '30,1' });
const unique = (base: string) => `${base}.${randomBytes(4).toString('hex')}`;
const app = (appId: string) => ({ params: { path: { appId } } });
const at = (appId: string, endpointId: string) => ({ params: { path: { appId, endpointId } } });
const type = (name: string) => ({ params: { path: { name } } });

const orderSchema = {
  type: 'object',
  properties: { orderId: { type: 'string' }, total: { type: 'number', minimum: 0 } },
  required: ['orderId'],
};

describe('the event-type catalog', () => {
  it('is written by the admin and read by any key', async () => {
    const name = unique('order.created');
    const created = await system.api.hr.POST('/v1/event-types', {
      body: {
        name,
        description: 'An order was placed',
        schema: orderSchema,
        examples: [{ orderId: 'o_1', total: 12.5 }],
      },
    });
    expect(created.response.status).toBe(201);
    expect(created.data).toMatchObject({ name, deprecated: false, examples: [{ orderId: 'o_1', total: 12.5 }] });

    const appId = await system.api.createApp();
    const key = await system.api.hr.POST('/v1/apps/{appId}/keys', { ...app(appId), body: {} });
    const appKey = testApi({ apiUrl: system.target.apiUrl, apiKey: key.data!.key }).hr;
    expect((await appKey.POST('/v1/event-types', { body: { name: unique('x') } })).response.status).toBe(403);
    const one = await appKey.GET('/v1/event-types/{name}', type(name));
    expect(one.response.status).toBe(200);
    expect(one.data).toMatchObject({ schema: orderSchema });
    const all = await appKey.GET('/v1/event-types', { params: { query: { limit: 250 } } });
    expect(all.data?.items.map((t) => t.name)).toContain(name);

    const admin = system.api.hr;
    expect((await admin.POST('/v1/event-types', { body: { name } })).response.status).toBe(409);
    const patched = await admin.PATCH('/v1/event-types/{name}', { ...type(name), body: { deprecated: true } });
    expect(patched.data).toMatchObject({ deprecated: true, schema: orderSchema });
    expect((await admin.DELETE('/v1/event-types/{name}', type(name))).response.status).toBe(204);
    expect((await admin.GET('/v1/event-types/{name}', type(name))).response.status).toBe(404);
  });

  it('refuses an invalid schema (400) and an example that does not validate (422), naming what is wrong', async () => {
    const admin = system.api.hr;
    const bad = await admin.POST('/v1/event-types', { body: { name: unique('bad'), schema: { type: 'objekt' } } });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.error.details?.[0]?.path).toMatch(/^schema/);

    const wrong = await admin.POST('/v1/event-types', {
      body: { name: unique('wrong'), schema: orderSchema, examples: [{ orderId: 'o_1' }, { total: -1 }] },
    });
    expect(wrong.response.status).toBe(422);
    expect(wrong.error?.error.details?.map((d) => d.path)).toEqual(expect.arrayContaining(['examples.1']));

    const name = unique('kept');
    await admin.POST('/v1/event-types', { body: { name, schema: orderSchema, examples: [{ orderId: 'a' }] } });
    // A new schema must still accept the examples kept.
    const patched = await admin.PATCH('/v1/event-types/{name}', {
      ...type(name),
      body: { schema: { ...orderSchema, required: ['orderId', 'total'] } },
    });
    expect(patched.response.status).toBe(422);
  });
});

describe('test events', () => {
  it('sends the first example to that endpoint alone, marked as a test', async () => {
    const name = unique('invoice.paid');
    await system.api.hr.POST('/v1/event-types', {
      body: { name, examples: [{ invoice: 'in_1' }, { invoice: 'in_2' }] },
    });
    const appId = await system.api.createApp();
    const target = system.hook();
    const other = system.hook();
    const ep = await system.api.createEndpoint(appId, target);
    await system.api.createEndpoint(appId, other);

    const sendExample = (eventType: string) =>
      system.api.hr.POST('/v1/apps/{appId}/endpoints/{endpointId}/send-example', {
        ...at(appId, ep.id),
        body: { eventType },
      });
    const sent = await sendExample(name);
    expect(sent.response.status).toBe(202);
    await system.receiver.waitFor(() => system.receiver.on(target).length === 1, 20_000, 'the test event');
    const got: unknown = JSON.parse(system.receiver.on(target)[0]!.body);
    expect(got).toMatchObject({ type: name, data: { invoice: 'in_1' } });
    expect(got).not.toHaveProperty('test');

    const status = await system.api.waitForStatus(appId, sent.data!.id, (s) => s.deliveries[0]?.status === 'succeeded');
    expect(status).toMatchObject({ test: true, deliveries: [{ endpointId: ep.id }] });
    expect(system.receiver.on(other)).toHaveLength(0);
    // The endpoint's log marks it too, and an ordinary event not.
    const real = await system.api.sendEvent(appId, { type: name, data: { invoice: 'in_9' } });
    await system.api.waitForStatus(appId, real.id, (s) => s.deliveries.every((d) => d.status === 'succeeded'));
    const log = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/deliveries', at(appId, ep.id));
    expect(log.data?.items.map((d) => [d.eventId, d.test ?? false])).toEqual([
      [real.id, false],
      [sent.data!.id, true],
    ]);

    expect((await sendExample(unique('missing'))).response.status).toBe(422);
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
      sent.push(r.id);
      await system.api.waitForStatus(appId, r.id, (s) => s.deliveries.every((d) => d.status !== 'pending'));
    }
    type Query = NonNullable<paths['/v1/apps/{appId}/endpoints/{endpointId}/deliveries']['get']['parameters']['query']>;
    const log = (endpointId: string, query: Query = {}) =>
      system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/deliveries', {
        params: { path: { appId, endpointId }, query },
      });
    const all = await log(ok.id);
    expect(all.response.status).toBe(200);
    expect(all.data!.items.map((d) => d.eventId)).toEqual([...sent].reverse());
    expect(all.data!.items[0]).toMatchObject({ status: 'succeeded', lastStatusCode: 200, eventType: 'a.one' });

    const ones = await log(ok.id, { eventType: 'a.one', status: 'succeeded' });
    expect(ones.data!.items.map((d) => d.eventId)).toEqual([sent[2], sent[0]]);
    expect((await log(ok.id, { status: 'failed' })).data!.items).toEqual([]);
    const before = await log(ok.id, { until: '2020-01-01T00:00:00Z', since: '2019-01-01T00:00:00Z' });
    expect(before.data!.items).toEqual([]);

    const seen: string[] = [];
    const pageAfter = (c: string | null) => log(ok.id, { limit: 2, ...(c ? { cursor: c } : {}) });
    let cursor: string | null = null;
    do {
      const page = await pageAfter(cursor);
      expect(page.data!.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.data!.items.map((d) => d.eventId));
      cursor = page.data!.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...sent].reverse());

    const statsOf = (endpointId: string) =>
      system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/stats', at(appId, endpointId));
    const stats = await statsOf(ok.id);
    expect(stats.data).toMatchObject({
      total: 3,
      byStatus: { succeeded: 3, failed: 0 },
      byStatusCode: { '200': 3 },
      successRate: 1,
      truncated: false,
    });
    expect(stats.data!.latencyMs.p50).toBeGreaterThanOrEqual(0);
    const gone = await statsOf(other.id);
    expect(gone.data).toMatchObject({ byStatusCode: { '410': 1 } });

    const path = `/v1/apps/${appId}/endpoints/${ok.id}`;
    expect((await system.api.raw('GET', `${path}/deliveries?status=nope`)).status).toBe(400);
    expect((await log(ok.id, { since: 'yesterday' })).response.status).toBe(400);
    expect((await log(ok.id, { cursor: 'abc' })).response.status).toBe(400);
    expect((await statsOf('ep_missing')).response.status).toBe(404);
  });
});

describe('an endpoint’s failures, found and charted', () => {
  it('gives each delivery its latest error, finds one by event id, and charts the window with the latest failure', async () => {
    const appId = await system.api.createApp();
    // A port nothing listens on: every attempt is a refused connection, with no HTTP status.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const refused = await system.api.createEndpoint(appId, `http://127.0.0.1:${port}/hooks`, {
      eventTypes: ['b.refused'],
    });
    const flaky = await system.api.createEndpoint(appId, system.hook([500, 200]), { eventTypes: ['b.flaky'] });
    const lost = await system.api.sendEvent(appId, { type: 'b.refused', data: { n: 1 } });
    const saved = await system.api.sendEvent(appId, { type: 'b.flaky', data: { n: 2 } });
    await system.api.waitForStatus(appId, lost.id, (s) => s.deliveries[0]?.status === 'failed');
    await system.api.waitForStatus(appId, saved.id, (s) => s.deliveries[0]?.status === 'succeeded');

    type Query = NonNullable<paths['/v1/apps/{appId}/endpoints/{endpointId}/deliveries']['get']['parameters']['query']>;
    const log = (endpointId: string, query: Query = {}) =>
      system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/deliveries', {
        params: { path: { appId, endpointId }, query },
      });
    const failed = await log(refused.id);
    expect(failed.data!.items).toMatchObject([
      { eventId: lost.id, status: 'failed', lastStatusCode: null, lastError: 'connection refused', attempts: 4 },
    ]);
    // A success after a failure carries no error: its latest attempt did not fail.
    expect((await log(flaky.id)).data!.items).toMatchObject([{ eventId: saved.id, lastError: null }]);

    // By event id: that delivery alone, whatever the window; another endpoint's event or an
    // unknown id finds nothing; an explicit window still applies; a malformed id is a 400.
    const found = await log(refused.id, { eventId: lost.id });
    expect(found.data!.items.map((d) => d.eventId)).toEqual([lost.id]);
    expect((await log(refused.id, { eventId: saved.id })).data!.items).toEqual([]);
    expect((await log(refused.id, { eventId: 'evt_nothing_here' })).data!.items).toEqual([]);
    const old = await log(refused.id, {
      eventId: lost.id,
      since: '2019-01-01T00:00:00Z',
      until: '2020-01-01T00:00:00Z',
    });
    expect(old.data!.items).toEqual([]);
    const bad = await log(refused.id, { eventId: 'not an id!' });
    expect(bad.response.status).toBe(400);
    expect(bad.error?.error.details?.[0]?.path).toBe('eventId');

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const stats = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/stats', {
      params: { path: { appId, endpointId: refused.id }, query: { since } },
    });
    expect(stats.data!.lastFailure).toMatchObject({
      eventId: lost.id,
      status: 'failed',
      statusCode: null,
      error: 'connection refused',
    });
    const { bucketSeconds, points } = stats.data!.series;
    expect(bucketSeconds).toBe(60); // an hour in minutes
    expect(points.length).toBeGreaterThanOrEqual(61);
    expect(points.length).toBeLessThanOrEqual(62);
    expect(points.reduce((n, p) => n + p.failed, 0)).toBe(1);
    const bucket = points.find((p) => p.failed === 1)!;
    expect(Date.parse(bucket.at) % 60_000).toBe(0);
    expect(Date.parse(bucket.at)).toBeLessThanOrEqual(Date.parse(lost.timestamp));
    expect(Date.parse(bucket.at) + 60_000).toBeGreaterThan(Date.parse(lost.timestamp));

    const good = await system.api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/stats', at(appId, flaky.id));
    expect(good.data!.lastFailure).toBeNull();
    expect(good.data!.series.bucketSeconds).toBe(1800); // 24 hours in half hours
    const point = good.data!.series.points.find((p) => p.succeeded === 1)!;
    expect(point.latencyMs.p50).toBeGreaterThanOrEqual(0);
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
    appKeyA = (await system.api.hr.POST('/v1/apps/{appId}/keys', { ...app(appA), body: {} })).data!.key;
  });

  type Mint = RequestBody<'/v1/apps/{appId}/portal-access', 'post'>;
  const mint = async (body: Mint, key = appKeyA, appId = appA) => {
    const r = await as(key).hr.POST('/v1/apps/{appId}/portal-access', { ...app(appId), body });
    return { status: r.response.status, body: r.data! };
  };
  const as = (token: string) => testApi({ apiUrl: system.target.apiUrl, apiKey: token });

  it('are minted by the app’s key with the token in the URL fragment, a day by default', async () => {
    const r = await mint({});
    expect(r.status).toBe(201);
    expect(r.body.url).toBe(`${system.target.apiUrl}/portal#token=${r.body.token}`);
    expect(r.body.token).toMatch(/^hrp_[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(r.body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(86_390_000);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
    const session = await as(r.body.token).hr.GET('/v1/portal/session');
    expect(session.data).toEqual({ appId: appA, capabilities: ['read'], expiresAt: r.body.expiresAt });
    for (const body of [{ ttlSeconds: 60 }, { ttlSeconds: 604_801 }, { capabilities: ['manage'] }, { x: 1 }]) {
      // Bad on purpose (an unknown field among them): sent raw.
      const bad = await system.api.raw('POST', `/v1/apps/${appA}/portal-access`, body, { key: appKeyA });
      expect(bad.status, JSON.stringify(body)).toBe(400);
    }
  });

  it('read-only: reads the app, changes nothing (403)', async () => {
    const ep = await system.api.createEndpoint(appA, system.hook());
    const read = as((await mint({ capabilities: ['read'] })).body.token).hr;
    const route = '/v1/apps/{appId}/endpoints/{endpointId}';
    expect((await read.GET('/v1/apps/{appId}/endpoints', app(appA))).response.status).toBe(200);
    expect((await read.GET('/v1/event-types')).response.status).toBe(200);
    expect((await read.PATCH(route, { ...at(appA, ep.id), body: { enabled: false } })).response.status).toBe(403);
    expect((await read.GET(`${route}/secret`, at(appA, ep.id))).response.status).toBe(403);
    expect(
      (await read.POST('/v1/apps/{appId}/endpoints', { ...app(appA), body: { url: system.hook() } })).response.status,
    ).toBe(403);
    expect((await read.DELETE(route, at(appA, ep.id))).response.status).toBe(403);
    const still = await system.api.hr.GET(route, at(appA, ep.id));
    expect(still.data?.enabled).toBe(true);
  });

  it('manage: changes endpoints, never keys, events or other links', async () => {
    const manage = as((await mint({ capabilities: ['read', 'manage'] })).body.token).hr;
    const ep = await manage.POST('/v1/apps/{appId}/endpoints', { ...app(appA), body: { url: system.hook() } });
    expect(ep.response.status).toBe(201);
    const secret = await manage.GET('/v1/apps/{appId}/endpoints/{endpointId}/secret', at(appA, ep.data!.id));
    expect(secret.response.status).toBe(200);
    expect((await manage.POST('/v1/apps/{appId}/keys', { ...app(appA), body: {} })).response.status).toBe(403);
    const event = await manage.POST('/v1/apps/{appId}/events', { ...app(appA), body: { type: 'a', data: {} } });
    expect(event.response.status).toBe(403);
    expect((await manage.POST('/v1/apps/{appId}/portal-access', { ...app(appA), body: {} })).response.status).toBe(403);
    expect((await manage.POST('/v1/event-types', { body: { name: unique('p') } })).response.status).toBe(403);
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
      const r = await manage.raw(method, path, method === 'GET' ? undefined : { enabled: false });
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    // Minting for another app with A's key is a 404 too.
    expect((await mint({}, appKeyA, appB)).status).toBe(404);
  });

  it('all end at once, and say so; links minted afterwards work', async () => {
    const before = (await mint({})).body.token;
    const getApp = (token: string) => as(token).hr.GET('/v1/apps/{appId}', app(appA));
    expect((await getApp(before)).response.status).toBe(200);
    const ended = await as(appKeyA).hr.DELETE('/v1/apps/{appId}/portal-access', app(appA));
    expect(ended.response.status).toBe(204);
    const refused = await getApp(before);
    expect(refused.response.status).toBe(401);
    expect(refused.error?.error.message).toMatch(/ended/);
    const after = (await mint({})).body.token;
    expect((await getApp(after)).response.status).toBe(200);
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
    expect((await as(other).hr.GET('/v1/portal/session')).response.status).toBe(200);
  });
});
