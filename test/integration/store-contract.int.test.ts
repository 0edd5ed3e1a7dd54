/**
 * The storage contract, run twice: on the DynamoDB stores against the real-protocol emulator,
 * and on the in-memory fakes the unit tests use (test/helpers/fakes.ts). Both implement the same
 * ports, read here as the use cases read them (the reads that span stores through the use cases'
 * own functions), so a fake that drifts from the real store fails here.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoStores } from '../../functions/dynamo-stores';
import type { DeliveryUpdate } from '../../functions/delivery/deliver';
import { listAccepted, listWaitingRetries } from '../../functions/delivery/housekeeping';
import { freshDelivery, Status, type DeliveryKey } from '../../functions/delivery/lifecycle';
import { eventHistory, eventWithDeliveries } from '../../functions/delivery/queries';
import { addDelivery } from '../../functions/delivery/replay';
import type { App, StoredEvent } from '../../functions/shared/model';
import type { Emulators } from '../../infra/local/emulators';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { dynamoClient, provision } from '../../infra/local/provision';
import { fakeStores } from '../helpers/fakes';

type Stores = ReturnType<typeof fakeStores> | ReturnType<typeof dynamoStores>;
interface Subject {
  stores: Stores;
  putApp(app: App): Promise<void>;
}

let emulators: Emulators;
let db: DynamoDBDocumentClient;
const subjects: Record<string, Subject> = {};

beforeAll(async () => {
  emulators = await startTestEmulators();
  const { tableName } = await provision(emulators.endpoints);
  db = DynamoDBDocumentClient.from(dynamoClient(emulators.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const real = dynamoStores(db, { tableName, retentionDays: 30 });
  subjects.dynamo = { stores: real, putApp: (a) => real.apps.putApp(a) };
  const fake = fakeStores();
  subjects.fake = { stores: fake, putApp: async (a) => fake.apps.putApp(a) };
});

afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

let n = 0;
const unique = (p: string) => `${p}_${Date.now().toString(36)}${(n++).toString(36)}`;
const T = (s: number) => new Date(Date.UTC(2026, 10, 22, 12) + s * 1000).toISOString();

function event(appId: string, id: string, endpointIds: string[], at = T(0), dataJson = '{"a":1}'): StoredEvent {
  return {
    id,
    appId,
    type: 't.created',
    timestamp: at,
    dataJson,
    requestHash: 'h1',
    endpointIds,
    skippedEndpointIds: [],
  };
}
const keyOf = (e: StoredEvent, endpointId: string): DeliveryKey => ({
  appId: e.appId,
  eventId: e.id,
  endpointId,
  eventAt: e.timestamp,
});
const outcome = (status: DeliveryUpdate['status'], attempts: number, extra: Partial<DeliveryUpdate> = {}) => ({
  status,
  eventType: 't.created',
  attempts,
  lastStatusCode: status === Status.succeeded ? 200 : 500,
  lastAttemptAt: T(1),
  nextAttemptAt: null,
  dueAt: null,
  ...extra,
});

/** A realistic 1.2 KB payload (compressed when stored). */
const invoiceJson = JSON.stringify({
  object: 'invoice',
  id: 'in_1QZx8r2eZvKYlo2C0pQx7hT9',
  customer: 'cus_R4nd0mC8st0m3r',
  lines: Array.from({ length: 6 }, (_, i) => ({
    id: `il_${i}9f8e7d6c5b4a`,
    description: `Seat licence ${i}, November 2026`,
    amount: 1000 + i * 137,
    currency: 'eur',
    period: { start: 1793534400 + i, end: 1796212800 + i },
  })),
  total: 7055,
  status: 'paid',
});

describe.each(['fake', 'dynamo'])('the storage contract (%s)', (name) => {
  const s = () => subjects[name]!.stores;
  /** What housekeeping's reconciles read through. */
  const reads = () => ({ ...s(), store: s().housekeeping });

  it('accepts an event once, with its data byte for byte, and hands back the first on a repeat', async () => {
    const appId = unique('app');
    const e = event(appId, 'msg_1', ['ep_1'], T(0), invoiceJson);
    expect(await s().events.putEventIfAbsent(e)).toEqual({ created: true });
    const again = await s().events.putEventIfAbsent({ ...e, requestHash: 'other' });
    expect(again).toEqual({ created: false, existing: e });
    expect(await s().events.getEvent(appId, 'msg_1')).toEqual(e);
  });

  it('shows only the deliveries that have a record, and every failed attempt', async () => {
    const appId = unique('app');
    const e = event(appId, 'msg_1', ['ep_1', 'ep_2']);
    await s().events.putEventIfAbsent(e);
    expect((await eventWithDeliveries(s(), appId, 'msg_1'))?.deliveries).toEqual([]);
    await s().deliveries.recordAttempt({
      appId,
      eventId: 'msg_1',
      endpointId: 'ep_2',
      attempt: 1,
      at: T(1),
      statusCode: 500,
      durationMs: 4,
      outcome: 'retryable',
      error: 'HTTP 500',
      responseExcerpt: 'no',
    });
    const update = outcome(Status.retrying, 1, { nextAttemptAt: T(6), dueAt: T(306) });
    expect(await s().deliveries.finish(keyOf(e, 'ep_2'), { unleased: { attempt: 1, now: T(1) } }, update)).toBe(true);
    const history = await eventHistory(s(), appId, 'msg_1');
    expect(history?.deliveries).toMatchObject([
      { endpointId: 'ep_2', status: Status.retrying, attempts: 1, nextAttemptAt: T(6), dueAt: T(306) },
    ]);
    expect(history?.attempts).toMatchObject([{ endpointId: 'ep_2', attempt: 1, statusCode: 500 }]);
  });

  it('records an unleased outcome once: a second write of the same attempt is refused', async () => {
    const e = event(unique('app'), 'msg_1', ['ep_1']);
    const guard = { unleased: { attempt: 1, now: T(1) } };
    expect(await s().deliveries.finish(keyOf(e, 'ep_1'), guard, outcome(Status.succeeded, 1))).toBe(true);
    expect(await s().deliveries.finish(keyOf(e, 'ep_1'), guard, outcome(Status.succeeded, 1))).toBe(false);
    expect(await s().deliveries.getDelivery(keyOf(e, 'ep_1'))).toMatchObject({ status: Status.succeeded, attempts: 1 });
  });

  it('leases an attempt to one worker at a time and applies only the holder’s result', async () => {
    const e = event(unique('app'), 'msg_1', ['ep_1']);
    const k = keyOf(e, 'ep_1');
    expect(await s().deliveries.claim(k, 1, { token: 'a', until: T(300) }, T(0))).toBe(true);
    expect(await s().deliveries.claim(k, 1, { token: 'b', until: T(300) }, T(1))).toBe(false);
    // An unleased write (a duplicate first receive) loses to the live lease.
    expect(await s().deliveries.finish(k, { unleased: { attempt: 1, now: T(1) } }, outcome(Status.succeeded, 1))).toBe(
      false,
    );
    expect(await s().deliveries.finish(k, { leaseToken: 'b' }, outcome(Status.succeeded, 1))).toBe(false);
    expect(await s().deliveries.finish(k, { leaseToken: 'a' }, outcome(Status.succeeded, 1))).toBe(true);
    // The lease expired long ago, but the attempt happened: no second claim.
    expect(await s().deliveries.claim(k, 1, { token: 'c', until: T(900) }, T(600))).toBe(false);
  });

  it('puts a record a lease creates on the open index, due when the lease ends, and takes it off with the outcome', async () => {
    const appId = unique('app');
    const e = event(appId, 'msg_1', ['ep_1']);
    const k = keyOf(e, 'ep_1');
    const mine = async () =>
      (await s().housekeeping.listDue('9999', 100_000)).filter((i) => i.delivery.appId === appId);
    expect(await s().deliveries.claim(k, 1, { token: 'a', until: T(300) }, T(0))).toBe(true);
    // Should the worker die and its message be lost, the index alone still finds the delivery.
    expect((await mine()).map((i) => [i.dueAt, i.delivery.status])).toEqual([[T(300), Status.pending]]);
    expect(await s().deliveries.finish(k, { leaseToken: 'a' }, outcome(Status.succeeded, 1))).toBe(true);
    expect(await mine()).toEqual([]);
  });

  it('skips a delivery once, and never one that finished', async () => {
    const e = event(unique('app'), 'msg_1', ['ep_1', 'ep_2']);
    await s().deliveries.skip(keyOf(e, 'ep_1'), 't.created');
    expect(await s().deliveries.getDelivery(keyOf(e, 'ep_1'))).toMatchObject({ status: Status.skipped, attempts: 0 });
    await s().deliveries.finish(
      keyOf(e, 'ep_2'),
      { unleased: { attempt: 1, now: T(1) } },
      outcome(Status.succeeded, 1),
    );
    await s().deliveries.skip(keyOf(e, 'ep_2'), 't.created');
    expect(await s().deliveries.getDelivery(keyOf(e, 'ep_2'))).toMatchObject({ status: Status.succeeded });
  });

  it('restarts a finished delivery once, keeping its success as an attempt record', async () => {
    const appId = unique('app');
    const e = event(appId, 'msg_1', ['ep_1']);
    const k = keyOf(e, 'ep_1');
    await s().events.putEventIfAbsent(e);
    await s().deliveries.finish(
      k,
      { unleased: { attempt: 1, now: T(1) } },
      outcome(Status.succeeded, 1, { success: { durationMs: 7, responseExcerpt: 'ok' } }),
    );
    const d = (await s().deliveries.getDelivery(k))!;
    expect(await s().deliveries.restartDelivery(d, T(400), T(100))).toBe(true);
    expect(await s().deliveries.restartDelivery(d, T(400), T(100))).toBe(false);
    expect(await s().deliveries.getDelivery(k)).toMatchObject({ status: Status.pending, retryBase: 1, dueAt: T(400) });
    expect((await eventHistory(s(), appId, 'msg_1'))?.attempts).toMatchObject([
      { endpointId: 'ep_1', attempt: 1, outcome: 'succeeded', durationMs: 7 },
    ]);
  });

  it('lists due open items by time and moves one only for the first of two concurrent housekeepers', async () => {
    const e = event(unique('app'), 'msg_1', ['ep_1']);
    const d = freshDelivery(keyOf(e, 'ep_1'), 't.created');
    expect(await s().deliveries.openPending(d, '2000-01-01T00:00:00.000Z')).toBe(true);
    expect(await s().deliveries.openPending(d, '2000-01-01T00:00:00.000Z')).toBe(false);
    const due = (await s().housekeeping.listDue('2000-01-02', 1000)).filter((i) => i.delivery.eventId === e.id);
    expect(due).toMatchObject([{ dueAt: '2000-01-01T00:00:00.000Z', delivery: { appId: e.appId, status: 'pending' } }]);
    const [a, b] = await Promise.all([
      s().housekeeping.rescheduleDue(due[0]!, '2000-01-01T00:05:00.000Z'),
      s().housekeeping.rescheduleDue(due[0]!, '2000-01-01T00:05:00.000Z'),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    expect(await s().deliveries.getDelivery(keyOf(e, 'ep_1'))).toMatchObject({ requeues: 1 });
  });

  it('lists an app’s accepted events in a window, each with the endpoints that have a record', async () => {
    const appId = unique('app');
    await subjects[name]!.putApp({ id: appId, name: 'A', createdAt: T(0) });
    const early = event(appId, 'msg_a', ['ep_1', 'ep_2'], T(10));
    const late = event(appId, 'msg_b', ['ep_1'], T(20));
    await s().events.putEventIfAbsent(early);
    await s().events.putEventIfAbsent(late);
    await s().deliveries.finish(
      keyOf(early, 'ep_2'),
      { unleased: { attempt: 1, now: T(11) } },
      outcome(Status.succeeded, 1),
    );
    const seen: { id: string; recorded: string[] }[] = [];
    const refs: unknown[] = [];
    for await (const page of listAccepted(reads(), T(10), T(20))) {
      for (const a of page) {
        if (a.event.appId !== appId) continue;
        seen.push({ id: a.event.id, recorded: [...a.recorded] });
        refs.push(a.event);
      }
    }
    expect(seen).toEqual([{ id: 'msg_a', recorded: ['ep_2'] }]);
    // What the reconcile needs of the event, nothing more.
    expect(refs).toEqual([{ appId, id: 'msg_a', type: early.type, timestamp: T(10), endpointIds: ['ep_1', 'ep_2'] }]);
  });

  it('lists an app’s retries waiting on no index in a window, and opens each on it once', async () => {
    const appId = unique('app');
    await subjects[name]!.putApp({ id: appId, name: 'A', createdAt: T(0) });
    const waiting = event(appId, 'msg_a', ['ep_1', 'ep_2'], T(10));
    const onIndex = event(appId, 'msg_b', ['ep_1'], T(20));
    const later = event(appId, 'msg_c', ['ep_1'], T(30));
    for (const e of [waiting, onIndex, later]) await s().events.putEventIfAbsent(e);
    const retry = (e: StoredEvent, endpointId: string, dueAt: string | null) =>
      s().deliveries.finish(
        keyOf(e, endpointId),
        { unleased: { attempt: 1, now: T(11) } },
        outcome(Status.retrying, 1, { nextAttemptAt: T(16), dueAt }),
      );
    await retry(waiting, 'ep_1', null);
    await s().deliveries.finish(
      keyOf(waiting, 'ep_2'),
      { unleased: { attempt: 1, now: T(11) } },
      outcome(Status.succeeded, 1),
    );
    await retry(onIndex, 'ep_1', T(316));
    await retry(later, 'ep_1', null);
    const list = async () => {
      const found = [];
      for await (const page of listWaitingRetries(reads(), T(10), T(30))) {
        found.push(...page.filter((d) => d.appId === appId));
      }
      return found;
    };

    const found = await list();
    expect(found).toMatchObject([
      { eventId: 'msg_a', endpointId: 'ep_1', status: Status.retrying, attempts: 1, nextAttemptAt: T(16) },
    ]);
    const d = found[0]!;
    expect(d.dueAt).toBeUndefined();
    // Only as it was read: the same attempts, still retrying, on no index; and only once.
    expect(await s().housekeeping.openWaitingRetry({ ...d, attempts: 2 }, T(600))).toBe(false);
    const opened = await Promise.all([
      s().housekeeping.openWaitingRetry(d, T(600)),
      s().housekeeping.openWaitingRetry(d, T(600)),
    ]);
    expect(opened.filter(Boolean)).toHaveLength(1);
    const due = (await s().housekeeping.listDue(T(601), 1000)).filter((i) => i.delivery.appId === appId);
    expect(due).toMatchObject([{ dueAt: T(316) }, { dueAt: T(600), delivery: { eventId: 'msg_a', requeues: 1 } }]);
    expect(await list()).toEqual([]);
    // A finished delivery is never opened.
    const done = freshDelivery(keyOf(waiting, 'ep_2'), 't.created');
    expect(await s().housekeeping.openWaitingRetry({ ...done, attempts: 1 }, T(600))).toBe(false);
  });

  it('moves the retries checkpoint forward only, apart from the first', async () => {
    const before = await s().housekeeping.retriesReconciledUntil();
    const next = `${before ?? '2026'}Z`;
    await s().housekeeping.setRetriesReconciledUntil(next);
    await s().housekeeping.setRetriesReconciledUntil('2000-01-01T00:00:00.000Z');
    expect(await s().housekeeping.retriesReconciledUntil()).toBe(next);
    expect(await s().housekeeping.reconciledUntil()).not.toBe(next);
  });

  it('moves the reconcile checkpoint forward only', async () => {
    const before = await s().housekeeping.reconciledUntil();
    const next = `${before ?? '2026'}Z`;
    await s().housekeeping.setReconciledUntil(next);
    await s().housekeeping.setReconciledUntil('2000-01-01T00:00:00.000Z');
    expect(await s().housekeeping.reconciledUntil()).toBe(next);
  });

  it('lists an endpoint’s failed and skipped deliveries since a time, oldest first', async () => {
    const appId = unique('app');
    const events = [0, 1, 2, 3].map((i) => event(appId, `msg_${i}`, ['ep_1'], T(i * 10)));
    const results = [Status.failed, Status.succeeded, Status.failed, Status.failed] as const;
    for (const [i, e] of events.entries()) {
      await s().deliveries.finish(keyOf(e, 'ep_1'), { unleased: { attempt: 1, now: T(100) } }, outcome(results[i]!, 1));
    }
    await s().deliveries.putSkippedDeliveries([
      freshDelivery(keyOf(event(appId, 'msg_9', [], T(90)), 'ep_1'), 't', true),
    ]);
    const found = await s().deliveries.listFailedSince(appId, 'ep_1', T(5), 2);
    expect(found.items.map((d) => d.eventId)).toEqual(['msg_2', 'msg_3']);
    expect(found.more).toBe(true);
    const all = await s().deliveries.listFailedSince(appId, 'ep_1', T(5), 10);
    expect(all.items.map((d) => [d.eventId, d.status])).toEqual([
      ['msg_2', Status.failed],
      ['msg_3', Status.failed],
      ['msg_9', Status.skipped],
    ]);
  });

  it('adds a delivery to an event it never went to, once', async () => {
    const appId = unique('app');
    const e = event(appId, 'msg_1', ['ep_1']);
    await s().events.putEventIfAbsent(e);
    const d = freshDelivery(keyOf(e, 'ep_2'), 't.created');
    expect(await addDelivery(s(), d, T(300))).toBe(true);
    expect(await addDelivery(s(), d, T(300))).toBe(false);
    expect((await s().events.getEvent(appId, 'msg_1'))?.endpointIds).toEqual(['ep_1', 'ep_2']);
  });

  it('pages the feed oldest first, strictly after a position and before a time', async () => {
    const appId = unique('app');
    for (let i = 0; i < 5; i++) await s().events.putEventIfAbsent(event(appId, `msg_${i}`, [], T(i)));
    const first = await s().events.listFeed(appId, undefined, T(4), 2);
    expect(first.map((e) => e.id)).toEqual(['msg_0', 'msg_1']);
    const next = await s().events.listFeed(appId, `${T(1)}#msg_1`, T(4), 10);
    expect(next.map((e) => e.id)).toEqual(['msg_2', 'msg_3']);
  });
});
