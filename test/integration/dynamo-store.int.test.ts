/** The DynamoDB adapter against the real-protocol emulator, on the table the topology defines. */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAppStore } from '../../functions/adapters/dynamo/app-store';
import { DynamoDeliveryStore } from '../../functions/adapters/dynamo/delivery-store';
import { DynamoEventStore } from '../../functions/adapters/dynamo/event-store';
import { DynamoHousekeepingStore } from '../../functions/adapters/dynamo/housekeeping-store';
import { ValidationError } from '../../functions/core/errors';
import { createHousekeeping } from '../../functions/core/housekeeping';
import { createIngestService } from '../../functions/core/ingest';
import type { DeliveryMessage } from '../../functions/core/messages';
import type { Delivery, Endpoint, StoredEvent } from '../../functions/core/model';
import type { Emulators } from '../../infra/local/emulators';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { dynamoClient, provision } from '../../infra/local/provision';

let emulators: Emulators;
/** All the table's stores, as one object for brevity here. */
let store: DynamoAppStore & DynamoEventStore & DynamoDeliveryStore & DynamoHousekeepingStore;
let db: DynamoDBDocumentClient;
let n = 0;
const unique = (p: string) => `${p}_${Date.now().toString(36)}${(n++).toString(36)}`;

beforeAll(async () => {
  emulators = await startTestEmulators();
  const { tableName } = await provision(emulators.endpoints);
  db = DynamoDBDocumentClient.from(dynamoClient(emulators.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const options = { tableName, retentionDays: 30 };
  const parts = [
    new DynamoAppStore(db, options),
    new DynamoEventStore(db, options),
    new DynamoDeliveryStore(db, options),
    new DynamoHousekeepingStore(db, options),
  ];
  // Route each method name to the store that defines it.
  store = new Proxy({} as typeof store, {
    get: (_t, name) => {
      const owner = parts.find((p) => typeof (p as unknown as Record<PropertyKey, unknown>)[name] === 'function');
      const fn = owner && (owner as unknown as Record<PropertyKey, (...a: unknown[]) => unknown>)[name];
      return fn?.bind(owner);
    },
  });
});

afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

function endpoint(appId: string, id: string, extra: Partial<Endpoint> = {}): Endpoint {
  return {
    id,
    appId,
    url: 'https://example.com/h',
    eventTypes: [],
    description: '',
    enabled: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    secrets: [{ key: 'whsec_abc', createdAt: '2026-01-01T00:00:00.000Z' }],
    version: 0,
    ...extra,
  };
}

function event(appId: string, id: string, endpointIds: string[]): StoredEvent {
  return {
    id,
    appId,
    type: 't.created',
    timestamp: new Date().toISOString(),
    dataJson: '{"a":1}',
    requestHash: 'h1',
    endpointIds,
    skippedEndpointIds: [],
  };
}

const pending = (appId: string, eventId: string, endpointId: string, dueAt: string): Delivery => ({
  appId,
  eventId,
  endpointId,
  status: 'pending',
  attempts: 0,
  createdAt: new Date().toISOString(),
  dueAt,
});

describe('DynamoStore', () => {
  it('stores an app once and reads it back with its endpoints in one query', async () => {
    const appId = unique('app');
    await store.putApp({ id: appId, name: 'A', createdAt: '2026-01-01T00:00:00.000Z' });
    await expect(store.putApp({ id: appId, name: 'B', createdAt: 'x' })).rejects.toThrow();
    await store.putEndpoint(endpoint(appId, 'ep_1'));
    await store.putEndpoint(endpoint(appId, 'ep_2', { enabled: false, eventTypes: ['a'] }));
    const found = await store.getAppWithEndpoints(appId);
    expect(found?.app.name).toBe('A');
    expect(found?.endpoints.map((e) => [e.id, e.enabled, e.eventTypes])).toEqual([
      ['ep_1', true, []],
      ['ep_2', false, ['a']],
    ]);
    expect(await store.getAppWithEndpoints(unique('app'))).toBeNull();
  });

  it('pages through endpoints with opaque cursors and refuses a forged one', async () => {
    const appId = unique('app');
    await store.putApp({ id: appId, name: 'A', createdAt: 'x' });
    for (let i = 0; i < 5; i++) await store.putEndpoint(endpoint(appId, `ep_${i}`));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listEndpoints(appId, 2, cursor);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['ep_0', 'ep_1', 'ep_2', 'ep_3', 'ep_4']);
    const foreign = Buffer.from(JSON.stringify({ pk: 'APP#other', sk: 'EP#x' })).toString('base64url');
    await expect(store.listEndpoints(appId, 2, foreign)).rejects.toBeInstanceOf(ValidationError);
    await expect(store.listEndpoints(appId, 2, '!!')).rejects.toBeInstanceOf(ValidationError);
  });

  it('puts an event once and hands back the existing one on a repeat', async () => {
    const appId = unique('app');
    const ev = event(appId, 'msg_1', ['ep_1']);
    expect(await store.putEventIfAbsent(ev)).toEqual({ created: true });
    const again = await store.putEventIfAbsent({ ...ev, requestHash: 'h2' });
    expect(again).toMatchObject({
      created: false,
      existing: { id: 'msg_1', requestHash: 'h1', endpointIds: ['ep_1'] },
    });
  });

  it('reads an event with its deliveries but without its attempts', async () => {
    const appId = unique('app');
    await store.putEventIfAbsent(event(appId, 'msg_1', ['ep_1', 'ep_2']));
    await store.putNewDeliveries([pending(appId, 'msg_1', 'ep_1', '2999'), pending(appId, 'msg_1', 'ep_2', '2999')]);
    await store.recordAttempt(
      {
        appId,
        eventId: 'msg_1',
        endpointId: 'ep_1',
        attempt: 1,
        at: new Date().toISOString(),
        statusCode: 500,
        durationMs: 3,
        outcome: 'retryable',
        error: 'HTTP 500',
        responseExcerpt: 'no',
      },
      30,
    );
    const found = await store.getEventWithDeliveries(appId, 'msg_1');
    expect(found?.deliveries.map((d) => d.endpointId)).toEqual(['ep_1', 'ep_2']);
    const history = await store.getEventHistory(appId, 'msg_1');
    expect(history?.attempts).toMatchObject([{ attempt: 1, statusCode: 500, error: 'HTTP 500' }]);
    expect(history?.deliveries.map((d) => d.endpointId)).toEqual(['ep_1', 'ep_2']);
  });

  it('creates only the missing deliveries of a half-done fan-out', async () => {
    const appId = unique('app');
    await store.putNewDeliveries([{ ...pending(appId, 'm', 'ep_1', '2999'), status: 'succeeded', attempts: 1 }]);
    const created = await store.putMissingDeliveries([
      pending(appId, 'm', 'ep_1', '2999'),
      pending(appId, 'm', 'ep_2', '2999'),
    ]);
    expect(created.map((d) => d.endpointId)).toEqual(['ep_2']);
    const ctx = await store.loadAttemptContext(appId, 'm', 'ep_1');
    expect(ctx.delivery?.status).toBe('succeeded');
  });

  it('leases an attempt to one worker at a time and applies only the lease holder’s result', async () => {
    const appId = unique('app');
    await store.putNewDeliveries([pending(appId, 'm', 'ep_1', '2999')]);
    const d = (await store.loadAttemptContext(appId, 'm', 'ep_1')).delivery!;
    const now = new Date().toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();
    expect(await store.claim(d, 1, { token: 'a', until }, now)).toBe(true);
    expect(await store.claim(d, 1, { token: 'b', until }, now)).toBe(false);
    expect(await store.finish(d, 'b', { status: 'succeeded', attempts: 1, dueAt: null })).toBe(false);
    expect(await store.finish(d, 'a', { status: 'succeeded', attempts: 1, lastStatusCode: 200, dueAt: null })).toBe(
      true,
    );
    const after = (await store.loadAttemptContext(appId, 'm', 'ep_1')).delivery!;
    expect(after).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200 });
    expect(after.leaseUntil).toBeUndefined();
    expect(after.dueAt).toBeUndefined();
    expect(await store.claim(after, 2, { token: 'c', until }, now)).toBe(false);
  });

  it('lists due open items by time and moves one only for the first of two concurrent housekeepers', async () => {
    const appId = unique('app');
    const due = '2000-01-01T00:00:00.000Z';
    await store.putNewDeliveries([pending(appId, 'm', 'ep_1', due)]);
    const items = (await store.listDue('2000-01-01T00:00:01.000Z', 1000)).filter((i) => i.delivery.appId === appId);
    expect(items).toHaveLength(1);
    const [a, b] = await Promise.all([
      store.rescheduleDue(items[0]!, '2999-01-01T00:00:00.000Z'),
      store.rescheduleDue(items[0]!, '2999-01-01T00:00:00.000Z'),
    ]);
    expect([a, b].sort()).toEqual([false, true]);
    const left = (await store.listDue('2000-01-01T00:00:01.000Z', 1000)).filter((i) => i.delivery.appId === appId);
    expect(left).toHaveLength(0);
  });

  it("finishes, on the producer's retry, a fan-out that crashed after the event was stored", async () => {
    const appId = unique('app');
    await store.putApp({ id: appId, name: 'A', createdAt: 'x' });
    await store.putEndpoint(endpoint(appId, 'ep_1'));
    await store.putEndpoint(endpoint(appId, 'ep_2'));
    const sent: DeliveryMessage[] = [];
    const ingest = createIngestService({ store, queue: { enqueue: async (m) => void sent.push(...m) }, leaseS: 300 });
    const body = { type: 't.created', data: { a: 1 }, id: 'msg_crash' };
    // The crash: the first try stored the event and died before its deliveries (no 202 went out).
    const first = await ingest.ingest({ appId, body });
    const stored = (await store.getEventWithDeliveries(appId, 'msg_crash'))!.event;
    const crashedApp = unique('app');
    await store.putApp({ id: crashedApp, name: 'B', createdAt: 'x' });
    await store.putEndpoint(endpoint(crashedApp, 'ep_1'));
    await store.putEndpoint(endpoint(crashedApp, 'ep_2'));
    await store.putEventIfAbsent({ ...stored, appId: crashedApp });
    sent.length = 0;

    const replay = await ingest.ingest({ appId: crashedApp, body });
    expect(replay).toEqual({ ...first, timestamp: stored.timestamp });
    expect(sent.map((m) => [m.endpointId, m.attempt])).toEqual([
      ['ep_1', 1],
      ['ep_2', 1],
    ]);
    const found = await store.getEventWithDeliveries(crashedApp, 'msg_crash');
    expect(found?.deliveries.map((d) => d.status)).toEqual(['pending', 'pending']);
    // Dated from their event, as the first try would have (recover's `since` counts from there).
    expect(found?.deliveries.map((d) => d.createdAt)).toEqual([stored.timestamp, stored.timestamp]);

    // A second replay sends nothing more.
    sent.length = 0;
    await ingest.ingest({ appId: crashedApp, body });
    expect(sent).toHaveLength(0);
  });

  it('lets housekeeping re-drive a delivery whose message never left', async () => {
    const appId = unique('app');
    // The crash: the delivery is stored, due one lease later, but its message was never sent.
    await store.putNewDeliveries([pending(appId, 'msg_1', 'ep_1', new Date(Date.now() - 1000).toISOString())]);
    const sent: DeliveryMessage[] = [];
    const housekeeping = createHousekeeping({
      store,
      enqueue: async (m) => void sent.push(...m),
      schedule: async (m) => void sent.push(m),
      leaseS: 300,
      stuckAfterRequeues: 3,
    });
    const report = await housekeeping.run();
    expect(report.requeued).toBeGreaterThanOrEqual(1);
    expect(sent.filter((m) => m.appId === appId)).toEqual([
      { v: 1, appId, eventId: 'msg_1', endpointId: 'ep_1', attempt: 1 },
    ]);
    // Moved a lease ahead: the next pass leaves it alone.
    sent.length = 0;
    await housekeeping.run();
    expect(sent.filter((m) => m.appId === appId)).toHaveLength(0);
  });
});
