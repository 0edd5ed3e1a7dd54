/**
 * One app's events spread over several partitions (its eventShards), against the real-protocol
 * emulators: written over more than one, read back as one feed in accept order with a cursor that
 * survives a change of the shard count, found by id (generated and chosen), idempotent, and
 * reconciled from every shard.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOT_APP_REUSE_MS } from '../../functions/endpoints/dynamo-app-store';
import { dynamoStores } from '../../functions/dynamo-stores';
import { deliveriesPk, eventsPk } from '../../functions/shared/table-layout';
import { newId, shardOfId } from '../../functions/shared/ids';
import { DynamoTable } from '../../functions/shared/dynamo-table';
import { ValidationError } from '../../functions/shared/errors';
import { DynamoEndpointLogStore } from '../../functions/endpoints/dynamo-endpoint-log-store';
import { createIngestService } from '../../functions/intake/ingest';
import { createHousekeeping, listAccepted } from '../../functions/delivery/housekeeping';
import { createEventQueries } from '../../functions/delivery/queries';
import { createDeliverService } from '../../functions/delivery/deliver';
import { createReplayService } from '../../functions/delivery/replay';
import { lifecycle, type DeliveryMessage } from '../../functions/delivery/lifecycle';
import { RetryPolicy } from '../../functions/delivery/retry-policy';
import { createEndpointHealth } from '../../functions/endpoints/endpoint-health';
import { createEndpointLog } from '../../functions/endpoints/endpoint-log';
import { createBusIntake } from '../../functions/intake/bus-intake';
import { createOrderedDelivery } from '../../functions/ordering/ordered-delivery';
import { createOrderingService } from '../../functions/ordering/ordering-service';
import { DynamoHeldKeyStore } from '../../functions/ordering/dynamo-held-keys';
import type { StoredEvent } from '../../functions/shared/model';
import type { SendResult } from '../../functions/webhook/outcome';
import type { WebhookRequest } from '../../functions/webhook/webhook';
import type { Emulators } from '../../infra/local/emulators';
import { dynamoClient, provision } from '../../infra/local/provision';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { RecordingScheduler, status } from '../helpers/fakes';
import { anEndpoint } from '../helpers/fixtures';

let emulators: Emulators;
let db: DynamoDBDocumentClient;
let tableName = '';
let stores: ReturnType<typeof dynamoStores>;

const APP = 'app_sharded';
/** An app whose producer chooses its events' ids (POST `id`, Idempotency-Key, the bus's). */
const HOT = 'app_chosen';
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
  await stores.apps.putApp({ id: HOT, name: 'chosen ids', createdAt: new Date(T0).toISOString() });
  await stores.apps.putEndpoint(anEndpoint({ appId: HOT, id: 'ep_hot' }));
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

/** How many items each of `shards` partitions (`pkOf(shard)`) holds. */
async function countsPerPartition(shards: number, pkOf: (shard: number) => string): Promise<number[]> {
  const counts: number[] = [];
  for (let s = 0; s < shards; s++) {
    const out = await db.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': pkOf(s) },
        Select: 'COUNT',
      }),
    );
    counts.push(out.Count ?? 0);
  }
  return counts;
}

/** How many of the app's events each of its partitions holds. */
const perPartition = (shards: number) => countsPerPartition(shards, (s) => eventsPk(APP, s));

/** The shards of an endpoint's delivery records that hold any. */
async function deliveryShardsInUse(appId: string, endpointId: string, shards: number): Promise<number[]> {
  const counts = await countsPerPartition(shards, (s) => deliveriesPk(appId, endpointId, s));
  return counts.flatMap((n, s) => (n > 0 ? [s] : []));
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
    expect((await deliveryShardsInUse(APP, 'ep_1', 4)).length).toBeGreaterThan(1);

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

/** A receiver that fails the events named in `failing` (HTTP 500) and takes the rest. */
class Receiver {
  readonly failing = new Set<string>();
  readonly got: string[] = [];
  async send(req: WebhookRequest): Promise<SendResult> {
    const id = req.headers['webhook-id']!;
    this.got.push(id);
    return status(this.failing.has(id) ? 500 : 200);
  }
}

describe('an app whose producer chooses the ids, sending to one hot endpoint', () => {
  const queue = new RecordingScheduler(() => clock);
  const dlq = new RecordingScheduler(() => clock);
  const receiver = new Receiver();
  const life = lifecycle({ leaseS: 300 });
  const worker = () =>
    createDeliverService({
      events: stores.events,
      store: stores.deliveries,
      endpoints: stores.apps,
      health: createEndpointHealth({ store: stores.apps, disableAfterFailingS: 5 * 86_400 }),
      sender: receiver,
      scheduler: queue,
      deadLetters: dlq,
      // No retry: a failed attempt ends in the DLQ at once.
      policy: new RetryPolicy({ scheduleS: [], jitter: 0 }),
      life,
      timeoutMs: 1000,
      userAgent: 'hookrelay/test',
      now: () => new Date(clock),
    });
  const replay = () =>
    createReplayService({
      events: stores.events,
      deliveries: stores.deliveries,
      scheduler: queue,
      getEndpoint: (a, e) => stores.apps.getEndpoint(a, e),
      life,
      recoverMax: 100,
      now: () => new Date(clock),
    });
  const log = () =>
    createEndpointLog({
      store: new DynamoEndpointLogStore(new DynamoTable(db, { tableName, retentionDays: 30 })),
      requireEndpoint: async (a, e) => (await stores.apps.getEndpoint(a, e))!,
      findEvent: async (a, id) => (await stores.events.getEvent(a, id, false)) ?? undefined,
      describeRequest: () => ({ method: 'POST', url: '', headers: {} }),
      statsMax: 1000,
      now: () => new Date(clock),
    });
  /** Delivers every message queued since `from` (as the work queue would), returns how many. */
  async function drain(from: number): Promise<number> {
    const messages = queue.sent.slice(from).map((s) => s.message);
    for (const m of messages) await worker().handle(m);
    return messages.length;
  }
  const statusOf = async (id: string) => (await feed().status(HOT, id)).deliveries[0]!;
  const events: StoredEvent[] = [];

  it('writes their delivery records over more than one partition, each in its event shard', async () => {
    expect(await stores.apps.raiseEventShards(HOT, 4)).toBe(true);
    const bus = createBusIntake({
      ingest: (req) => ingester().ingest(req),
      deadLetters: { send: async () => {} },
      retry: { firstDelayS: 30, maxDelayS: 3600, attempts: 3 },
    });
    const ids: string[] = [];
    for (let n = 0; n < 8; n++) {
      const body = { type: 'order.created', data: { n } };
      ids.push((await ingester().ingest({ appId: HOT, body: { ...body, id: `order-${n}` } })).id);
      ids.push((await ingester().ingest({ appId: HOT, body, idempotencyKey: `key-${n}` })).id);
      const busEvent = {
        id: randomUUID(),
        source: 'shop',
        'detail-type': 'order.created',
        detail: { appId: HOT, data: { n } },
      };
      const out = await bus.handle({ body: JSON.stringify(busEvent), receives: 1 });
      expect(out.outcome).toBe('ingested');
      ids.push(`evb_${busEvent.id}`);
    }
    for (const id of ids) events.push((await stores.events.getEvent(HOT, id))!);
    expect(events.every((e) => e !== null)).toBe(true);
    expect(new Set(events.map((e) => e.shard ?? 0)).size).toBeGreaterThan(1);
    // Every third event's delivery fails (to the DLQ); the rest succeed.
    events.forEach((e, i) => i % 3 === 0 && receiver.failing.add(e.id));
    // Their first attempts, as ingest queued them, each naming the shard a chosen id does not.
    const firsts = scheduler.sent.map((s) => s.message).filter((m) => m.appId === HOT);
    expect(firsts.map((m) => m.eventId)).toEqual(ids);
    for (const [i, m] of firsts.entries()) expect(m.shard).toBe(events[i]!.shard || undefined);
    for (const m of firsts) expect(await worker().handle(m)).toMatch(/^(succeeded|failed)$/);
    expect(dlq.sent.length).toBe(Math.ceil(events.length / 3));

    expect((await deliveryShardsInUse(HOT, 'ep_hot', 4)).length).toBeGreaterThan(1);
    // Each in its event's shard: the record's key is its event's partition and place.
    for (const e of events) {
      const at = { pk: deliveriesPk(HOT, 'ep_hot', e.shard ?? 0), sk: `${e.timestamp}#${e.id}` };
      expect((await db.send(new GetCommand({ TableName: tableName, Key: at }))).Item?.status).toBeDefined();
    }
  });

  it('shows each in the event status and the endpoint log, and reconciles none as lost', async () => {
    for (const [i, e] of events.entries()) {
      const expected = i % 3 === 0 ? 'failed' : 'succeeded';
      expect(await statusOf(e.id)).toMatchObject({ status: expected, attempts: 1 });
      expect(await log().delivery(HOT, 'ep_hot', e.id)).toMatchObject({ status: expected, attempts: 1 });
      const one = await log().deliveries(HOT, 'ep_hot', { eventId: e.id, since: e.timestamp, until: e.timestamp });
      expect(one.items.map((d) => [d.eventId, d.status])).toEqual([[e.id, expected]]);
    }
    const window = { since: events[0]!.timestamp, until: events.at(-1)!.timestamp };
    const all = await log().deliveries(HOT, 'ep_hot', { ...window, limit: '100' });
    expect(all.items.map((d) => d.eventId)).toEqual(events.map((e) => e.id).reverse());

    for await (const page of listAccepted(
      { ...stores, store: stores.housekeeping },
      window.since,
      `${window.until}~`,
    )) {
      for (const a of page) if (a.event.appId === HOT) expect(a.recorded.has('ep_hot')).toBe(true);
    }
    // A housekeeping run well after them re-sends none of them.
    const hk = createHousekeeping({
      store: stores.housekeeping,
      apps: stores.apps,
      events: stores.events,
      deliveries: stores.deliveries,
      scheduler: queue,
      life,
      stuckAfterRequeues: 3,
      now: () => new Date(clock + 3_600_000),
    });
    const before = queue.sent.length;
    await hk.run();
    expect(queue.sent.slice(before).filter((s) => s.message.appId === HOT)).toEqual([]);
  });

  it('sends the failed ones again by DLQ redrive, resend and recover, each to its own record', async () => {
    receiver.failing.clear();
    const failed = events.filter((_, i) => i % 3 === 0);
    const [viaDlq, viaResend, ...viaRecover] = failed.map((e) => e.id);
    // An operator redrives one dead letter: the message comes back to the work queue as it was.
    const dead = dlq.sent.map((s) => s.message).find((m: DeliveryMessage) => m.eventId === viaDlq)!;
    expect(await worker().handle(dead)).toBe('succeeded');
    expect(await replay().resend(HOT, viaResend!, {})).toEqual({ deliveries: 1 });
    let from = queue.sent.length - 1;
    expect(await drain(from)).toBe(1);
    from = queue.sent.length;
    const recovered = await replay().recover(HOT, 'ep_hot', { since: events[0]!.timestamp });
    expect(recovered.recovered).toBe(viaRecover.length);
    await drain(from);
    for (const id of [viaDlq!, viaResend!, ...viaRecover]) {
      expect(await statusOf(id)).toMatchObject({ status: 'succeeded', attempts: 2 });
    }
    expect(dlq.sent.length).toBe(failed.length);
  });

  it("holds a strict endpoint's key on the head in its event's shard, and the skip route fails that record", async () => {
    const STRICT = 'app_chosen_strict';
    await stores.apps.putApp({ id: STRICT, name: 'strict', createdAt: new Date(T0).toISOString() });
    await stores.apps.putEndpoint(anEndpoint({ appId: STRICT, id: 'ep_strict', ordering: 'strict' }));
    expect(await stores.apps.raiseEventShards(STRICT, 4)).toBe(true);
    // A chosen-id event with an ordering key that landed in a shard its id cannot name.
    let head: StoredEvent | null = null;
    for (let n = 0; !head?.shard; n++) {
      const body = { type: 'order.created', data: { n }, id: `strict-${n}`, orderingKey: 'cart-1' };
      head = await stores.events.getEvent(STRICT, (await ingester().ingest({ appId: STRICT, body })).id);
    }
    const message = scheduler.sent.map((s) => s.message).find((m) => m.eventId === head.id)!;
    expect(message).toMatchObject({ order: { key: 'cart-1' }, shard: head.shard });
    // A re-POST of the id is answered with the original, and its strict first attempt, sent
    // again to take its place in the line, names the same record.
    const sent = scheduler.sent.length;
    const again = {
      type: 'order.created',
      data: JSON.parse(head.dataJson) as unknown,
      id: head.id,
      orderingKey: 'cart-1',
    };
    expect((await ingester().ingest({ appId: STRICT, body: again })).id).toBe(head.id);
    expect(scheduler.sent.slice(sent).map((s) => s.message)).toEqual([message]);
    const held = new DynamoHeldKeyStore(new DynamoTable(db, { tableName, retentionDays: 30 }));
    receiver.failing.add(head.id);
    const lane = createOrderedDelivery({
      events: stores.events,
      store: stores.deliveries,
      held,
      endpoints: stores.apps,
      health: createEndpointHealth({ store: stores.apps, disableAfterFailingS: 5 * 86_400 }),
      sender: receiver,
      deadLetters: dlq,
      policy: new RetryPolicy({ scheduleS: [60], jitter: 0 }),
      timeoutMs: 1000,
      userAgent: 'hookrelay/test',
      now: () => new Date(clock),
    });
    const verdict = await lane.handle(message, { receiptHandle: 'rh-1', receivedAtMs: clock });
    expect(verdict).toMatchObject({ release: false, outcome: 'retrying' });
    expect(await held.get(STRICT, 'ep_strict', 'cart-1')).toMatchObject({ eventId: head.id, shard: head.shard });
    const status = async () => (await feed().status(STRICT, head.id)).deliveries[0]!;
    expect(await status()).toMatchObject({ status: 'retrying', attempts: 1 });

    const ordering = createOrderingService({
      held,
      store: stores.deliveries,
      deadLetters: dlq,
      release: async () => true,
      getEndpoint: (a, e) => stores.apps.getEndpoint(a, e),
      now: () => new Date(clock),
    });
    expect(await ordering.skip(STRICT, 'ep_strict', { orderingKey: 'cart-1' }, 'ops')).toEqual({
      eventId: head.id,
      orderingKey: 'cart-1',
    });
    expect(await status()).toMatchObject({ status: 'failed', reason: 'skipped by ops' });
    expect(dlq.sent.at(-1)!.message).toMatchObject({ eventId: head.id, shard: head.shard, reason: 'skipped by ops' });
    expect(await held.get(STRICT, 'ep_strict', 'cart-1')).toBeNull();
  });
});
