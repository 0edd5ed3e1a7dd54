/**
 * The apps-and-endpoints store, and where events are found by their ids, against the real-protocol
 * emulators (the rest: store-contract.int.test.ts).
 */
import { DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAppStore, HOT_APP_READS, HOT_APP_REUSE_MS } from '../../functions/endpoints/dynamo-app-store';
import { CHOSEN_ID_ABANDONED_MS, DynamoEventStore } from '../../functions/intake/dynamo-event-store';
import { keys } from '../../functions/shared/table-layout';
import { newId } from '../../functions/shared/ids';
import { DynamoTable } from '../../functions/shared/dynamo-table';
import { ValidationError } from '../../functions/shared/errors';
import type { Endpoint, StoredEvent } from '../../functions/shared/model';
import type { Emulators } from '../../infra/local/emulators';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { anEndpoint } from '../helpers/fixtures';
import { dynamoClient, provision } from '../../infra/local/provision';

let emulators: Emulators;
let tableNameOf = '';
let store: DynamoAppStore;
let db: DynamoDBDocumentClient;
let n = 0;
const unique = (p: string) => `${p}_${Date.now().toString(36)}${(n++).toString(36)}`;

beforeAll(async () => {
  emulators = await startTestEmulators();
  const { tableName } = await provision(emulators.endpoints);
  tableNameOf = tableName;
  db = DynamoDBDocumentClient.from(dynamoClient(emulators.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new DynamoAppStore(new DynamoTable(db, { tableName, retentionDays: 30 }), { endpointCacheMs: 60_000 });
});

afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

const endpoint = (appId: string, id: string, extra: Partial<Endpoint> = {}): Endpoint =>
  anEndpoint({ appId, id, ...extra });

describe('DynamoAppStore', () => {
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

  it("keeps an endpoint's signature scheme, custom headers and auth as they were written", async () => {
    const appId = unique('app');
    const options: Partial<Endpoint> = {
      signature: { scheme: 'hmac-sha256', header: 'X-Hub-Signature-256', prefix: 'sha256=' },
      headers: { 'X-Tenant': 'acme', 'x-lower': 'v' },
      auth: {
        type: 'oauth2-client-credentials',
        tokenUrl: 'https://auth.example.com/token',
        clientId: 'c',
        clientSecret: 's',
        scope: 'hooks',
      },
    };
    await store.putEndpoint(endpoint(appId, 'ep_1', options));
    await store.putEndpoint(endpoint(appId, 'ep_2'));
    expect(await store.getEndpoint(appId, 'ep_1')).toEqual(endpoint(appId, 'ep_1', options));
    const plain = await store.getEndpoint(appId, 'ep_2');
    expect([plain?.signature, plain?.headers, plain?.auth]).toEqual([undefined, undefined, undefined]);
    expect((await store.endpointForDelivery(appId, 'ep_1'))?.auth).toEqual(options.auth);
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

  it("reads a quiet app's endpoints afresh for every event, and reuses a busy app's for at most a second", async () => {
    let now = 1_000_000;
    const clocked = new DynamoAppStore(new DynamoTable(db, { tableName: tableNameOf, retentionDays: 30 }), {
      endpointCacheMs: 0,
      now: () => now,
    });
    const appId = unique('app');
    await clocked.putApp({ id: appId, name: 'A', createdAt: 'x' });
    await clocked.putEndpoint(endpoint(appId, 'ep_1'));
    const ids = async () => (await clocked.getAppWithEndpoints(appId))?.endpoints.map((e) => e.id);

    for (let i = 0; i < HOT_APP_READS - 1; i++) expect(await ids()).toEqual(['ep_1']);
    await clocked.putEndpoint(endpoint(appId, 'ep_2'));
    expect(await ids()).toEqual(['ep_1', 'ep_2']); // still quiet: a fresh read

    for (let i = 0; i < HOT_APP_READS; i++) await ids();
    await clocked.putEndpoint(endpoint(appId, 'ep_3'));
    now += HOT_APP_REUSE_MS / 2;
    expect(await ids()).toEqual(['ep_1', 'ep_2']); // busy: the copy of under a second ago
    now += HOT_APP_REUSE_MS / 2;
    expect(await ids()).toEqual(['ep_1', 'ep_2', 'ep_3']);
  });

  it('lists every app for housekeeping', async () => {
    const appId = unique('app');
    await store.putApp({ id: appId, name: 'A', createdAt: 'x' });
    const ids: string[] = [];
    for await (const page of store.appIdPages()) ids.push(...page);
    expect(ids).toContain(appId);
  });

  it('never answers a delivery with an endpoint older than the version its event saw', async () => {
    const appId = unique('app');
    await store.putEndpoint(endpoint(appId, 'ep_1'));
    expect((await store.endpointForDelivery(appId, 'ep_1', 0))?.url).toBe('https://example.com/h');
    await store.putEndpoint(endpoint(appId, 'ep_1', { url: 'https://example.com/v1', version: 1 }));
    // Cached for a minute, but the message names version 1: read again.
    expect((await store.endpointForDelivery(appId, 'ep_1', 0))?.url).toBe('https://example.com/h');
    expect((await store.endpointForDelivery(appId, 'ep_1', 1))?.url).toBe('https://example.com/v1');
  });

  it('answers a retry with the endpoint as it is now, past a cached copy that is new enough', async () => {
    const appId = unique('app');
    await store.putEndpoint(endpoint(appId, 'ep_1', { version: 3 }));
    expect((await store.endpointForDelivery(appId, 'ep_1', 3))?.url).toBe('https://example.com/h');
    await store.putEndpoint(endpoint(appId, 'ep_1', { url: 'https://example.com/patched', version: 4 }));
    // The retry's message names the version its event saw (3): the cache would do, 'latest' does not take it.
    expect((await store.endpointForDelivery(appId, 'ep_1', 3))?.url).toBe('https://example.com/h');
    expect((await store.endpointForDelivery(appId, 'ep_1', 'latest'))?.url).toBe('https://example.com/patched');
  });
});

describe('DynamoEventStore: ids and where their events are', () => {
  let events: DynamoEventStore;
  let table: DynamoTable;
  beforeAll(() => {
    table = new DynamoTable(db, { tableName: tableNameOf, retentionDays: 30 });
    events = new DynamoEventStore(table);
  });

  function event(appId: string, id: string, at: Date, extra: Partial<StoredEvent> = {}): StoredEvent {
    return {
      id,
      appId,
      type: 'order.created',
      timestamp: at.toISOString(),
      dataJson: '{"n":1}',
      requestHash: 'h1',
      endpointIds: ['ep_1'],
      skippedEndpointIds: [],
      ...extra,
    };
  }
  const count = async (pk: string) =>
    (
      await db.send(
        new QueryCommand({
          TableName: table.name,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': pk },
        }),
      )
    ).Items?.length ?? 0;

  it('stores an event with a generated id in one item, found by the id alone', async () => {
    const appId = unique('app');
    const at = new Date();
    const e = event(appId, newId('msg', at.getTime()), at);
    expect(await events.putEventIfAbsent(e)).toEqual({ created: true });
    expect(await count(keys.chosenId(appId, e.id).pk)).toBe(0);
    expect(await events.getEvent(appId, e.id)).toEqual(e);
    // The same id again (a producer re-sending the id a 202 gave it), at another time: the same event.
    const later = event(appId, e.id, new Date(at.getTime() + 5000));
    expect(await events.putEventIfAbsent(later)).toEqual({ created: false, existing: e });
  });

  it('claims an id the producer chose, then finds its event through the claim', async () => {
    const appId = unique('app');
    const e = event(appId, 'order-42', new Date());
    expect(await events.putEventIfAbsent(e)).toEqual({ created: true });
    expect(await count(keys.chosenId(appId, e.id).pk)).toBe(1);
    expect(await events.getEvent(appId, 'order-42')).toEqual(e);
    const again = event(appId, 'order-42', new Date(Date.now() + 1000), { requestHash: 'h2' });
    expect(await events.putEventIfAbsent(again)).toEqual({ created: false, existing: e });
    expect(await events.getEvent(appId, 'order-43')).toBeNull();
  });

  it('answers "claimed" while a claim has no event yet, and lets a retry take an abandoned claim over', async () => {
    const appId = unique('app');
    const claimedAt = new Date(Date.now() - CHOSEN_ID_ABANDONED_MS / 2);
    // A request that died between its two writes: the claim, and no event.
    await db.send(
      new PutCommand({
        TableName: table.name,
        Item: { ...keys.chosenId(appId, 'order-7'), timestamp: claimedAt.toISOString(), requestHash: 'h1' },
      }),
    );
    const soon = event(appId, 'order-7', new Date());
    expect(await events.putEventIfAbsent(soon)).toEqual({ created: false, claimed: { requestHash: 'h1' } });
    expect(await events.getEvent(appId, 'order-7')).toBeNull();

    const late = event(appId, 'order-7', new Date(claimedAt.getTime() + CHOSEN_ID_ABANDONED_MS + 1));
    expect(await events.putEventIfAbsent(late)).toEqual({ created: true });
    expect(await events.getEvent(appId, 'order-7')).toEqual(late);
    // Taken over once: the next retry is a replay of that event.
    const retry = event(appId, 'order-7', new Date(Date.parse(late.timestamp) + 2 * CHOSEN_ID_ABANDONED_MS));
    expect(await events.putEventIfAbsent(retry)).toEqual({ created: false, existing: late });
  });

  it('keeps test events out of the feed, not out of the reconcile', async () => {
    const appId = unique('app');
    const t0 = Date.now() - 60_000;
    const real = event(appId, newId('msg', t0), new Date(t0));
    const test = event(appId, newId('msg', t0 + 1), new Date(t0 + 1), { test: true });
    await events.putEventIfAbsent(real);
    await events.putEventIfAbsent(test);
    const feed = await events.listFeed(appId, undefined, new Date().toISOString(), 10);
    expect(feed.map((e) => e.id)).toEqual([real.id]);
    const reconciled: string[] = [];
    for await (const page of events.acceptedPages(appId, 0, '', new Date().toISOString())) {
      reconciled.push(...page.map((r) => r.id));
    }
    expect(reconciled).toEqual([real.id, test.id]);
  });
});
