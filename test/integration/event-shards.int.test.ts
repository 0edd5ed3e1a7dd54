/**
 * One app's events spread over several partitions (its eventShards), against the real-protocol
 * emulators: written over more than one, read back as one feed in accept order with a cursor that
 * survives a change of the shard count, found by id (generated and chosen), idempotent, and
 * reconciled from every shard.
 */
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOT_APP_REUSE_MS } from '../../functions/endpoints/dynamo-app-store';
import { dynamoStores } from '../../functions/dynamo-stores';
import { deliveriesPk, eventsPk } from '../../functions/shared/table-layout';
import { newId, shardOfId } from '../../functions/shared/ids';
import { DynamoTable } from '../../functions/shared/dynamo-table';
import { ValidationError } from '../../functions/shared/errors';
import { DynamoEndpointLogStore } from '../../functions/endpoints/dynamo-endpoint-log-store';
import { createIngestService } from '../../functions/intake/ingest';
import { listAccepted } from '../../functions/delivery/housekeeping';
import { createEventQueries } from '../../functions/delivery/queries';
import type { Emulators } from '../../infra/local/emulators';
import { dynamoClient, provision } from '../../infra/local/provision';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { RecordingScheduler } from '../helpers/fakes';
import { anEndpoint } from '../helpers/fixtures';

let emulators: Emulators;
let db: DynamoDBDocumentClient;
let tableName = '';
let stores: ReturnType<typeof dynamoStores>;

const APP = 'app_sharded';
const T0 = Date.parse('2026-06-01T00:00:00.000Z');
let clock = T0;

beforeAll(async () => {
  emulators = await startTestEmulators();
  ({ tableName } = await provision(emulators.endpoints));
  db = DynamoDBDocumentClient.from(dynamoClient(emulators.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  stores = dynamoStores(db, { tableName, retentionDays: 30 });
  await stores.apps.putApp({ id: APP, name: 'busy', createdAt: new Date(T0).toISOString() });
  await stores.apps.putEndpoint(anEndpoint({ appId: APP, id: 'ep_1' }));
}, 60_000);

afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

const scheduler = new RecordingScheduler();
const ingester = () => createIngestService({ ...stores, scheduler, now: () => new Date(clock++) });
const feed = () => createEventQueries(stores, { feedSettleMs: 0, now: () => new Date(T0 + 86_400_000) });

async function send(n: number, chosen = false): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await ingester().ingest({
      appId: APP,
      body: { type: 'order.created', data: { n: ids.length } },
      ...(chosen ? { idempotencyKey: `order-${clock}` } : {}),
    });
    ids.push(r.id);
  }
  return ids;
}

/** How many of the app's events each of its partitions holds. */
async function perPartition(shards: number) {
  const counts: number[] = [];
  for (let s = 0; s < shards; s++) {
    const out = await db.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': eventsPk(APP, s) },
        Select: 'COUNT',
      }),
    );
    counts.push(out.Count ?? 0);
  }
  return counts;
}

describe('an app whose events are spread over several partitions', () => {
  it('writes them over more than one, and reads them back as one feed in accept order across a change of shard count', async () => {
    expect(await stores.apps.raiseEventShards(APP, 2)).toBe(true);
    const before = await send(30);
    expect(new Set(before.map((id) => shardOfId(id)))).toEqual(new Set([0, 1]));
    expect((await perPartition(2)).every((n) => n > 0)).toBe(true);

    // Page part of the way, then spread wider, send more, and carry on with the same cursor.
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 3; page++) {
      const out = await feed().feed(APP, { limit: '7', ...(cursor ? { after: cursor } : {}) });
      seen.push(...out.items.map((e) => e.id));
      cursor = out.nextCursor;
    }
    expect(await stores.apps.raiseEventShards(APP, 4)).toBe(true);
    expect(await stores.apps.raiseEventShards(APP, 2)).toBe(false); // never lowered
    // A busy app's writers reuse its fan-out for up to HOT_APP_REUSE_MS: the raise reaches them then.
    await new Promise((r) => setTimeout(r, HOT_APP_REUSE_MS + 50));
    const after = await send(30);
    expect(new Set(after.map((id) => shardOfId(id))).size).toBeGreaterThan(2);
    for (;;) {
      const out = await feed().feed(APP, { limit: '7', ...(cursor ? { after: cursor } : {}) });
      if (out.items.length === 0) break;
      seen.push(...out.items.map((e) => e.id));
      cursor = out.nextCursor;
    }
    expect(seen).toEqual([...before, ...after]);
    expect((await perPartition(4)).filter((n) => n > 0).length).toBeGreaterThan(2);

    // Reconciled from every shard: each event once.
    const reconciled: string[] = [];
    for await (const page of listAccepted(
      { ...stores, store: stores.housekeeping },
      '',
      new Date(T0 + 86_400_000).toISOString(),
    )) {
      reconciled.push(...page.map((a) => a.event.id));
    }
    expect(reconciled.sort()).toEqual([...before, ...after].sort());
  });

  it("spreads one endpoint's delivery records the same way, and reads them back merged", async () => {
    const ids = await send(24);
    const events = await Promise.all(ids.map(async (id) => (await stores.events.getEvent(APP, id))!));
    // An outcome for each (a skip writes the record as an outcome would).
    for (const e of events) {
      await stores.deliveries.skip({ appId: APP, eventId: e.id, endpointId: 'ep_1', eventAt: e.timestamp }, e.type);
    }
    const partitions = new Set<number>();
    for (let s = 0; s < 4; s++) {
      const out = await db.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': deliveriesPk(APP, 'ep_1', s) },
          Select: 'COUNT',
        }),
      );
      if ((out.Count ?? 0) > 0) partitions.add(s);
    }
    expect(partitions.size).toBeGreaterThan(1);

    // The endpoint's log: newest first, each once, across pages.
    const log = new DynamoEndpointLogStore(new DynamoTable(db, { tableName, retentionDays: 30 }));
    const window = { since: events[0]!.timestamp, until: events.at(-1)!.timestamp };
    const listed: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await log.listEndpointDeliveries(APP, 'ep_1', window, 5, cursor);
      expect(page.items.length).toBeLessThanOrEqual(5);
      listed.push(...page.items.map((d) => d.eventId));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(listed).toEqual([...ids].reverse());
    expect((await log.scanEndpointDeliveries(APP, 'ep_1', window, 1000)).items.map((d) => d.eventId)).toEqual(
      [...ids].reverse(),
    );
    // One event's delivery, by its id (the portal's search): found in whichever shard holds it.
    for (const e of events) {
      const one = await log.listEndpointDeliveries(APP, 'ep_1', { ...window, event: { id: e.id, at: e.timestamp } }, 5);
      expect(one.items.map((d) => d.eventId)).toEqual([e.id]);
    }
    // Recover's read: oldest first, merged.
    const failed = await stores.deliveries.listFailedSince(APP, 'ep_1', events[0]!.timestamp, 100);
    expect(failed.items.map((d) => d.eventId)).toEqual(ids);
    // And the reconcile sees each record where it is.
    let checked = 0;
    for await (const page of listAccepted(
      { ...stores, store: stores.housekeeping },
      window.since,
      `${window.until}~`,
    )) {
      for (const a of page) {
        if (!ids.includes(a.event.id)) continue;
        expect(a.recorded.has('ep_1')).toBe(true);
        checked++;
      }
    }
    expect(checked).toBe(ids.length);
  });

  it('refuses an id of the generated shape that names a shard the app does not have', async () => {
    const named = `${newId('msg', clock)}z`;
    await expect(
      ingester().ingest({ appId: APP, body: { type: 'order.created', data: {}, id: named } }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('finds each event by its id, generated or chosen, and answers a repeat with the original', async () => {
    const generated = await send(8);
    const chosen = await send(8, true);
    for (const id of [...generated, ...chosen]) {
      const status = await feed().status(APP, id);
      expect(status.id).toBe(id);
      const event = await stores.events.getEvent(APP, id);
      // As a delivery's message finds it: by id and accept time.
      expect((await stores.events.getEventAt(APP, id, event!.timestamp))?.id).toBe(id);
    }
    const shardsOfChosen = await Promise.all(
      chosen.map(async (id) => (await stores.events.getEvent(APP, id))?.shard ?? 0),
    );
    expect(shardsOfChosen.some((s) => s > 0)).toBe(true);

    const sent = scheduler.sent.length;
    const first = await stores.events.getEvent(APP, chosen[3]!);
    const repeat = await ingester().ingest({
      appId: APP,
      body: { type: 'order.created', data: JSON.parse(first!.dataJson) as Record<string, unknown> },
      idempotencyKey: chosen[3]!,
    });
    expect(repeat.id).toBe(chosen[3]);
    expect(scheduler.sent.length).toBe(sent);
  });
});
