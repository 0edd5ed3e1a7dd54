import { describe, expect, it } from 'vitest';
import { describeWebhookRequest } from '../../functions/webhook/webhook';
import { anEndpoint, anEvent } from '../helpers/fixtures';
import {
  createEndpointLog,
  series,
  type EndpointLogStore,
  type LoggedDelivery,
} from '../../functions/endpoints/endpoint-log';

const delivery = (over: Partial<LoggedDelivery>): LoggedDelivery => ({
  eventId: 'evt_1',
  eventType: 'a.b',
  status: 'succeeded',
  attempts: 1,
  lastStatusCode: 200,
  lastAttemptAt: '2026-12-04T10:00:01.000Z',
  nextAttemptAt: null,
  createdAt: '2026-12-04T10:00:00.000Z',
  durationMs: 20,
  ...over,
});

describe('the statistics over time', () => {
  it('cuts an hour into minutes aligned to UTC, counting each delivery by status in its event’s minute', () => {
    const s = series(
      [
        delivery({ createdAt: '2026-12-04T10:00:59.999Z', durationMs: 10 }),
        delivery({ createdAt: '2026-12-04T10:00:00.000Z', durationMs: 30 }),
        delivery({ createdAt: '2026-12-04T10:30:10.000Z', status: 'failed', durationMs: null }),
        delivery({ createdAt: '2026-12-04T08:00:00.000Z' }), // before the window's first bucket
      ],
      '2026-12-04T10:00:30.000Z',
      '2026-12-04T11:00:30.000Z',
    );
    expect(s.bucketSeconds).toBe(60);
    expect(s.points).toHaveLength(61);
    expect(s.points[0]).toMatchObject({ at: '2026-12-04T10:00:00.000Z', succeeded: 2, failed: 0 });
    expect(s.points[0]!.latencyMs).toEqual({ p50: 10, p95: 30 });
    expect(s.points[30]).toMatchObject({ at: '2026-12-04T10:30:00.000Z', succeeded: 0, failed: 1 });
    expect(s.points[30]!.latencyMs).toEqual({ p50: null, p95: null });
    expect(s.points.reduce((n, p) => n + p.succeeded + p.failed, 0)).toBe(3);
  });

  it('takes wider buckets for wider windows, never more than 64 of them', () => {
    const width = (days: number) => {
      const until = '2026-12-04T10:00:00.123Z';
      const since = new Date(Date.parse(until) - days * 86_400_000 - 5_000).toISOString();
      const s = series([], since, until);
      expect(s.points.length).toBeLessThanOrEqual(64);
      return s.bucketSeconds;
    };
    expect(width(1)).toBe(1800);
    expect(width(7)).toBe(10_800);
    expect(width(30)).toBe(43_200);
    expect(width(365)).toBe(604_800);
  });
});

describe('the log and its statistics', () => {
  const items = [
    delivery({ eventId: 'evt_ok' }),
    delivery({
      eventId: 'evt_late',
      status: 'retrying',
      attempts: 2,
      lastStatusCode: 503,
      lastAttemptAt: '2026-12-04T10:05:00.000Z',
      durationMs: null,
    }),
    delivery({
      eventId: 'evt_lost',
      status: 'failed',
      attempts: 4,
      lastStatusCode: null,
      lastAttemptAt: '2026-12-04T10:02:00.000Z',
      durationMs: null,
    }),
  ];
  const asked: string[][] = [];
  const store: EndpointLogStore = {
    listEndpointDeliveries: async (_a, _e, filter) => ({
      items: items.filter((d) => filter.event === undefined || d.eventId === filter.event.id),
      nextCursor: null,
    }),
    scanEndpointDeliveries: async () => ({ items, truncated: false }),
    latestErrors: async (_a, _e, ds) => {
      asked.push(ds.map((d) => `${d.eventId}#${d.attempts}`));
      return new Map(ds.map((d) => [d.eventId, d.eventId === 'evt_late' ? 'HTTP 503' : 'connection refused']));
    },
  };
  const log = createEndpointLog({
    store,
    requireEndpoint: async () => anEndpoint(),
    findEvent: async (_a, id) =>
      id === 'evt_lost' || id === 'evt_new'
        ? anEvent({ id, timestamp: '2026-12-04T10:00:00.000Z', type: 'a.b' })
        : undefined,
    describeRequest: (endpoint, event, at) => describeWebhookRequest(endpoint, event, at, 'hookrelay/test'),
    statsMax: 100,
    now: () => new Date('2026-12-04T11:00:00.000Z'),
  });

  it('reads the latest attempt’s error of the deliveries whose latest attempt failed, and only theirs', async () => {
    asked.length = 0;
    const page = await log.deliveries('app_1', 'ep_1', {});
    expect(page.items.map((d) => [d.eventId, d.lastError])).toEqual([
      ['evt_ok', null],
      ['evt_late', 'HTTP 503'],
      ['evt_lost', 'connection refused'],
    ]);
    expect(asked).toEqual([['evt_late#2', 'evt_lost#4']]);
    expect(page.items[0]).not.toHaveProperty('durationMs');
  });

  it('finds a delivery by its event id, and nothing for an unknown event or outside a given window', async () => {
    expect((await log.deliveries('app_1', 'ep_1', { eventId: 'evt_lost' })).items.map((d) => d.eventId)).toEqual([
      'evt_lost',
    ]);
    expect((await log.deliveries('app_1', 'ep_1', { eventId: 'evt_none' })).items).toEqual([]);
    const outside = await log.deliveries('app_1', 'ep_1', { eventId: 'evt_lost', since: '2026-12-04T10:30:00Z' });
    expect(outside.items).toEqual([]);
  });

  it('names the latest failure by the time of its latest attempt', async () => {
    const stats = await log.stats('app_1', 'ep_1', {});
    expect(stats.lastFailure).toEqual({
      eventId: 'evt_late',
      at: '2026-12-04T10:05:00.000Z',
      status: 'retrying',
      statusCode: 503,
      error: 'HTTP 503',
    });
    expect(stats.successRate).toBe(0.5);
    expect(stats.series.points.reduce((n, p) => n + p.retrying, 0)).toBe(1);
  });

  it('shows one delivery with the request of its latest attempt, and a pending one before it has a record', async () => {
    const lost = await log.delivery('app_1', 'ep_1', 'evt_lost');
    expect(lost).toMatchObject({ eventId: 'evt_lost', status: 'failed', lastError: 'connection refused' });
    expect(lost.request.headers['webhook-timestamp']).toBe(String(Date.parse('2026-12-04T10:02:00.000Z') / 1000));
    const fresh = await log.delivery('app_1', 'ep_1', 'evt_new');
    expect(fresh).toMatchObject({ eventId: 'evt_new', status: 'pending', attempts: 0, lastError: null });
    await expect(log.delivery('app_1', 'ep_1', 'evt_none')).rejects.toThrow(/no delivery/);
    await expect(log.delivery('app_1', 'ep_2', 'evt_lost')).rejects.toThrow(/no delivery/);
  });
});

describe('a delivery’s request, as people read it', () => {
  const event = { id: 'evt_9', type: 'order.paid', timestamp: '2026-12-04T10:00:00.000Z' };
  const at = new Date('2026-12-04T10:00:05.000Z');

  it('lists what a send has, with each signature, the auth and custom header values hidden', () => {
    const r = describeWebhookRequest(
      anEndpoint({
        url: 'https://shop.example/hooks',
        headers: { 'X-Tenant': 'acme-secret-tenant' },
        auth: { type: 'basic', username: 'relay', password: 'p4ssw0rd-p4ssw0rd' },
        secrets: [
          { key: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', createdAt: '2026-01-01T00:00:00.000Z' },
          {
            key: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
            createdAt: '2025-01-01T00:00:00.000Z',
            expiresAt: '2027-01-01T00:00:00.000Z',
          },
        ],
      }),
      event,
      at,
      'hookrelay/1.2.3',
    );
    expect(r).toEqual({
      method: 'POST',
      url: 'https://shop.example/hooks',
      headers: {
        'x-tenant': '•••',
        authorization: 'Basic •••',
        'content-type': 'application/json',
        'user-agent': 'hookrelay/1.2.3',
        'webhook-id': 'evt_9',
        'webhook-timestamp': '1796378405',
        'webhook-signature': 'v1,••• v1,•••',
      },
    });
    expect(JSON.stringify(r)).not.toMatch(/acme-secret|p4ssw0rd|whsec_/);
  });

  it('shows an HMAC signature by its header and prefix', () => {
    const r = describeWebhookRequest(
      anEndpoint({
        signature: { scheme: 'hmac-sha256', header: 'X-Hub-Signature-256', prefix: 'sha256=' },
        auth: { type: 'bearer', token: 'tok-tok-tok-tok' },
      }),
      event,
      at,
      'hookrelay/1',
    );
    expect(r.headers['x-hub-signature-256']).toBe('sha256=•••');
    expect(r.headers.authorization).toBe('Bearer •••');
    expect(r.headers).not.toHaveProperty('webhook-signature');
  });
});
