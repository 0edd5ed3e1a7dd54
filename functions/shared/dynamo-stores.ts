/**
 * The use cases' storage ports, each composed from the aggregate stores that hold what it needs
 * (apps and endpoints, events, deliveries) over one table.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { DeliveryStore } from '../delivery/deliver';
import type { HousekeepingStore } from '../delivery/housekeeping';
import type { IngestStore } from '../intake/ingest';
import type { DeliveryKey } from '../delivery/lifecycle';
import type { EventQueryStore } from '../delivery/queries';
import type { ReplayStore } from '../delivery/replay';
import { DynamoAppStore, type AppStoreOptions } from '../endpoints/dynamo-app-store';
import { DynamoDeliveryStore } from '../delivery/dynamo-delivery-store';
import { DynamoEventStore } from '../intake/dynamo-event-store';
import { DynamoTable, type DynamoStoreOptions } from './dynamo-table';

/** What the ports need of each aggregate; the in-memory fakes implement the same (test/helpers/fakes.ts). */
export type AppRecords = Pick<DynamoAppStore, 'getAppWithEndpoints' | 'getApp' | 'appIdPages'>;
export type EventRecords = Pick<
  DynamoEventStore,
  | 'putEventIfAbsent'
  | 'getEvent'
  | 'getEventAt'
  | 'addEndpoint'
  | 'listFeed'
  | 'activeIn'
  | 'markersSince'
  | 'acceptedPages'
>;
export type DeliveryRecords = Pick<
  DynamoDeliveryStore,
  | 'getDelivery'
  | 'getDeliveries'
  | 'recordedBetween'
  | 'waitingRetriesBetween'
  | 'attemptsOf'
  | 'listFailedSince'
  | 'claim'
  | 'recordAttempt'
  | 'finish'
  | 'skip'
  | 'putSkippedDeliveries'
  | 'openPending'
  | 'restartDelivery'
  | 'listDue'
  | 'rescheduleDue'
  | 'openWaitingRetry'
  | 'reconciledUntil'
  | 'setReconciledUntil'
  | 'retriesReconciledUntil'
  | 'setRetriesReconciledUntil'
>;

export function dynamoStores(db: DynamoDBDocumentClient, options: DynamoStoreOptions, appOptions?: AppStoreOptions) {
  const table = new DynamoTable(db, options);
  const apps = new DynamoAppStore(table, appOptions);
  return { table, apps, ...composeStores(apps, new DynamoEventStore(table), new DynamoDeliveryStore(table)) };
}

/** The use cases' ports over the three aggregates. */
export function composeStores(apps: AppRecords, events: EventRecords, deliveries: DeliveryRecords) {
  const deliveryKeys = (e: { appId: string; id: string; timestamp: string }, endpointIds: string[]): DeliveryKey[] =>
    endpointIds.map((endpointId) => ({ appId: e.appId, eventId: e.id, endpointId, eventAt: e.timestamp }));

  const ingest: IngestStore = {
    getAppWithEndpoints: (appId) => apps.getAppWithEndpoints(appId),
    putEventIfAbsent: (event) => events.putEventIfAbsent(event),
    putSkippedDeliveries: (ds) => deliveries.putSkippedDeliveries(ds),
  };

  const deliver: DeliveryStore = {
    getEvent: (appId, eventId, eventAt) =>
      eventAt === undefined ? events.getEvent(appId, eventId) : events.getEventAt(appId, eventId, eventAt),
    getDelivery: (k) => deliveries.getDelivery(k),
    claim: (k, attempt, lease, now) => deliveries.claim(k, attempt, lease, now),
    recordAttempt: (a) => deliveries.recordAttempt(a),
    finish: (k, guard, u) => deliveries.finish(k, guard, u),
    skip: (k, eventType) => deliveries.skip(k, eventType),
    restartDelivery: (d, dueAt, now) => deliveries.restartDelivery(d, dueAt, now),
  };

  const queries: EventQueryStore = {
    async getEventWithDeliveries(appId, eventId) {
      const event = await events.getEvent(appId, eventId, false);
      if (!event) return null;
      const ids = [...event.endpointIds, ...event.skippedEndpointIds];
      return { event, deliveries: await deliveries.getDeliveries(deliveryKeys(event, ids)) };
    },
    async getEventHistory(appId, eventId) {
      const [event, attempts] = await Promise.all([
        events.getEvent(appId, eventId, false),
        deliveries.attemptsOf(appId, eventId),
      ]);
      if (!event) return null;
      const ids = [...event.endpointIds, ...event.skippedEndpointIds];
      return { event, deliveries: await deliveries.getDeliveries(deliveryKeys(event, ids)), attempts };
    },
    async listFeed(appId, after, before, limit) {
      // Every partition the app's events may be in: the count only grows, and a raise reaches the
      // writers (which read the app) no sooner than this read sees it; the feed's settle window
      // (a minute) dwarfs the eventually consistent read's lag.
      const shards = (await apps.getApp(appId))?.eventShards ?? 1;
      return events.listFeed(appId, after, before, limit, shards);
    },
  };

  const replay: ReplayStore = {
    getEventWithDeliveries: queries.getEventWithDeliveries,
    restartDelivery: (d, dueAt, now) => deliveries.restartDelivery(d, dueAt, now),
    async addDelivery(d, dueAt) {
      // The record first: the event's fan-out then names an endpoint whose delivery exists.
      if (!(await deliveries.openPending(d, dueAt))) return false;
      await events.addEndpoint({ appId: d.appId, id: d.eventId, timestamp: d.createdAt }, d.endpointId);
      return true;
    },
    listFailedSince: (appId, endpointId, since, limit) => deliveries.listFailedSince(appId, endpointId, since, limit),
  };

  /**
   * Every app's events accepted in [from, to), a page of one shard at a time, with the page's
   * time span and the endpoints its events name: what both reconciles read deliveries back over.
   * Only the apps' shards that stored events in the window are read (their activity markers): a
   * run costs what its window holds, not what the app list holds.
   */
  async function* acceptedEventPages(from: string, to: string) {
    for await (const active of activeShards(from, to)) {
      for (const { appId, shard } of active) {
        for await (const page of events.acceptedPages(appId, shard, from, to)) {
          if (page.length === 0) continue;
          const span = { lo: page[0]!.timestamp, hi: page.at(-1)!.timestamp };
          yield { appId, page, span, endpointIds: [...new Set(page.flatMap((e) => e.endpointIds))] };
        }
      }
    }
  }

  /**
   * The shards to read for [from, to): the marked ones; or, for a window that starts before
   * markers were written (the runs just after an upgrade from a version without them), every
   * app's first shard (such a version wrote no other), as that version did.
   */
  async function* activeShards(from: string, to: string) {
    // A table that was never reconciled holds no event from before markers: they start at ''.
    const fresh = (await deliveries.reconciledUntil()) === null;
    const since = await events.markersSince(fresh ? '' : new Date().toISOString());
    if (from >= since) {
      yield* events.activeIn(from, to);
      return;
    }
    const walked = new Set<string>();
    for await (const appIds of apps.appIdPages()) {
      for (const appId of appIds) walked.add(appId);
      yield appIds.map((appId) => ({ appId, shard: 0 }));
    }
    for await (const page of events.activeIn(from, to)) {
      const rest = page.filter((a) => a.shard > 0 || !walked.has(a.appId));
      if (rest.length > 0) yield rest;
    }
  }

  const housekeeping: HousekeepingStore = {
    listDue: (cutoff, limit) => deliveries.listDue(cutoff, limit),
    rescheduleDue: (item, to, opts) => deliveries.rescheduleDue(item, to, opts),
    async *listAccepted(from, to) {
      for await (const { appId, page, span, endpointIds } of acceptedEventPages(from, to)) {
        // Per endpoint, one keys-only query over the page's time span, not one read per
        // delivery. Eventually consistent: a record missed here is caught by
        // openLateDelivery's condition.
        const recordedBy = new Map(
          await Promise.all(
            endpointIds.map(async (id) => [id, await deliveries.recordedBetween(appId, id, span.lo, span.hi)] as const),
          ),
        );
        yield page.map((event) => ({
          event,
          recorded: new Set(event.endpointIds.filter((id) => recordedBy.get(id)?.has(event.id))),
        }));
      }
    },
    async *listWaitingRetries(from, to) {
      for await (const { appId, span, endpointIds } of acceptedEventPages(from, to)) {
        // Per endpoint, one filtered query over the page's time span. Eventually consistent: a
        // retry that moved on meanwhile fails openWaitingRetry's condition.
        const found = await Promise.all(
          endpointIds.map((id) => deliveries.waitingRetriesBetween(appId, id, span.lo, span.hi)),
        );
        const waiting = found.flat();
        if (waiting.length > 0) yield waiting;
      }
    },
    openLateDelivery: (d, dueAt) => deliveries.openPending(d, dueAt),
    reconciledUntil: () => deliveries.reconciledUntil(),
    setReconciledUntil: (until) => deliveries.setReconciledUntil(until),
    openWaitingRetry: (d, dueAt, opts) => deliveries.openWaitingRetry(d, dueAt, opts),
    retriesReconciledUntil: () => deliveries.retriesReconciledUntil(),
    setRetriesReconciledUntil: (until) => deliveries.setRetriesReconciledUntil(until),
  };

  return { events, deliveries, ingest, deliver, queries, replay, housekeeping };
}
