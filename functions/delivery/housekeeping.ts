/**
 * Housekeeping: reconcile the table (the truth) against the queues. Two kinds of unfinished work:
 * - first attempts, which have no record until their outcome: each event is read once, when it
 *   is a lease old, against the outcomes recorded for it; a delivery with none is late (a crash
 *   between the event write and its message, a lost message, a dead worker), gets a pending
 *   record on the open index, and is sent again. Reading costs a fifth of the write an index
 *   entry for every first attempt would;
 * - retries the scheduler carries soon after their event (the default schedule's 5 s and 5 min),
 *   which have no index entry either: read back once the event is RETRY_RECONCILE_AFTER_S old
 *   (the trailing reconcile), when one still waiting is overdue by construction (its message was
 *   lost, or its worker is very late), goes on the open index and is sent again;
 * - everything else that is unfinished sits on the open index with a due time: a delivery past
 *   it is sent again, and a retry waiting longer than the scheduler's horizon is handed to it
 *   once it comes within it.
 * Each re-drive first moves the due time (or creates the record) with a conditional write, so
 * concurrent runs never send the same item twice; duplicates that do reach a worker are dropped
 * there.
 */
import { PARKED_DUE_AT } from '../ordering/ordering';
import {
  freshDelivery,
  isActive,
  keyOfEventDelivery,
  orderedAtAccept,
  orderOf,
  redriveMessage,
  retryDueMs,
  type DeliveryMessage,
  type DeliveryScheduler,
  type Lifecycle,
} from './lifecycle';
import type { AcceptedEventRef, Delivery } from '../shared/model';

export interface OpenItem {
  dueAt: string;
  delivery: Delivery;
}

/** An event, and the endpoints whose deliveries of it have a record. */
export interface AcceptedEvent {
  event: AcceptedEventRef;
  recorded: ReadonlySet<string>;
}

/** How housekeeping moves an item on the open index (see HousekeepingStore.rescheduleDue). */
export interface RedriveOptions {
  /** Drop a dead worker's lease. */
  clearLease?: boolean;
  /** The planned send of a future attempt: not counted as a re-drive. */
  planned?: boolean;
}

/** Housekeeping's own store (dynamo-housekeeping-store.ts): its reads, its index moves, its checkpoints. */
export interface HousekeepingStore {
  /** Open items due before `cutoff` (ISO), oldest first, across all shards. */
  listDue(cutoff: string, limit: number): Promise<OpenItem[]>;
  /**
   * Moves an item's due time from `item.dueAt` to `toDueAt` (counting a re-drive unless it is the
   * `planned` send of a long wait, and dropping a dead worker's lease when `clearLease`); false if
   * someone else moved it first.
   */
  rescheduleDue(item: OpenItem, toDueAt: string, opts?: RedriveOptions): Promise<boolean>;
  /** The events, accepted in [from, to], whose delivery to this endpoint has a record. */
  recordedBetween(appId: string, endpointId: string, from: string, to: string, shard?: number): Promise<Set<string>>;
  /**
   * This endpoint's deliveries of events accepted in [from, to] that wait for a retry with no
   * open-index entry (the scheduler carries their message).
   */
  waitingRetriesBetween(
    appId: string,
    endpointId: string,
    from: string,
    to: string,
    shard?: number,
  ): Promise<Delivery[]>;
  /**
   * Puts such a retry on the open index due at `dueAt` (counting a re-drive unless `planned`,
   * dropping a dead worker's lease when `clearLease`); false if it no longer waits as read
   * (it progressed, or another run opened it first).
   */
  openWaitingRetry(d: Delivery, dueAt: string, opts?: RedriveOptions): Promise<boolean>;
  /** Up to when every event has been reconciled (null: never). */
  reconciledUntil(): Promise<string | null>;
  setReconciledUntil(until: string): Promise<void>;
  /** Up to when every event's waiting retries have been read back (null: never). */
  retriesReconciledUntil(): Promise<string | null>;
  setRetriesReconciledUntil(until: string): Promise<void>;
}

/** What housekeeping reads of the apps (the app store). */
export interface HousekeepingApps {
  /** Every app's id, a page at a time. */
  appIdPages(): AsyncIterable<string[]>;
}

/** What housekeeping reads of the events (the event store). */
export interface HousekeepingEvents {
  /** The apps' shards that stored events in [from, to) (their activity markers), a page at a time. */
  activeIn(from: string, to: string): AsyncIterable<{ appId: string; shard: number }[]>;
  /** Since when every event has an activity marker; `ifUnset` becomes that time on first ask. */
  markersSince(ifUnset: string): Promise<string>;
  /** One shard of an app's events accepted in [from, to), in feed order, a page at a time. */
  acceptedPages(appId: string, shard: number, from: string, to: string): AsyncIterable<AcceptedEventRef[]>;
}

/** What housekeeping writes of the deliveries' records (the delivery store). */
export interface HousekeepingDeliveries {
  /** Gives a late first attempt a pending record on the open index; false if it has a record. */
  openPending(d: Delivery, dueAt: string): Promise<boolean>;
}

export interface HousekeepingDeps {
  store: HousekeepingStore;
  apps: HousekeepingApps;
  events: HousekeepingEvents;
  deliveries: HousekeepingDeliveries;
  scheduler: DeliveryScheduler;
  life: Lifecycle;
  /** A delivery re-driven this many times without progress is reported as stuck. */
  stuckAfterRequeues: number;
  now?: () => Date;
}

export interface HousekeepingReport {
  examined: number;
  /** Retries waiting longer than the scheduler's horizon, handed to it now that they are within it. */
  scheduled: number;
  requeued: number;
  /** First attempts found late by reading their events (included in `requeued`). */
  reconciled: number;
  /**
   * Retries without an open-index entry found still waiting by the trailing reconcile (their
   * message lost, or a worker very late); included in `requeued`, `scheduled` (recovering, a
   * future one) or `skippedInFlight` (one a worker holds: it waits on the open index now).
   */
  reconciledRetries: number;
  stuck: number;
  skippedInFlight: number;
}

/** What both reconciles read: every app, its events in a window, the records of their deliveries. */
export type ReconcileReads = Pick<HousekeepingDeps, 'apps' | 'events' | 'store'>;

/** App shards a reconcile reads at once: a run's time grows with its active apps divided by this. */
export const READ_CONCURRENCY = 16;

/** A page of one app shard's events, its time span, and the endpoints and delivery partitions it names. */
interface EventPage {
  appId: string;
  page: AcceptedEventRef[];
  span: { lo: string; hi: string };
  endpointIds: string[];
  dlvShards: number[];
}

/**
 * Every app's events accepted in [from, to), a page of one shard at a time, each turned into
 * what `load` reads back for it (its deliveries' records). Only the apps' shards that stored
 * events in the window are read (their activity markers): a run costs what its window holds, not
 * what the app list holds; READ_CONCURRENCY of them at a time, the results in whatever order
 * they come.
 */
async function* readAccepted<R>(
  reads: ReconcileReads,
  from: string,
  to: string,
  load: (p: EventPage) => Promise<R>,
): AsyncGenerator<R> {
  for await (const active of activeShards(reads, from, to)) {
    yield* inParallel(active, READ_CONCURRENCY, async ({ appId, shard }) => {
      const out: R[] = [];
      for await (const page of reads.events.acceptedPages(appId, shard, from, to)) {
        if (page.length === 0) continue;
        const span = { lo: page[0]!.timestamp, hi: page.at(-1)!.timestamp };
        const endpointIds = [...new Set(page.flatMap((e) => e.endpointIds))];
        // The delivery partitions of those events: their own shard's (table-layout.ts), whoever
        // chose their ids.
        const dlvShards = [...new Set(page.map((e) => e.shard ?? 0))];
        out.push(await load({ appId, page, span, endpointIds, dlvShards }));
      }
      return out;
    });
  }
}

/** `fn` over `items`, `k` at a time, each result's elements yielded as soon as it is done. */
async function* inParallel<T, R>(items: T[], k: number, fn: (t: T) => Promise<R[]>): AsyncGenerator<R> {
  type Done = { id: number; out?: R[]; err?: unknown };
  const running = new Map<number, Promise<Done>>();
  let next = 0;
  const start = () => {
    const id = next++;
    // Settled either way, so a failure waits its turn to be thrown instead of going unhandled.
    running.set(
      id,
      fn(items[id]!).then(
        (out) => ({ id, out }),
        (err: unknown) => ({ id, err }),
      ),
    );
  };
  while (next < items.length && running.size < k) start();
  while (running.size > 0) {
    const done = await Promise.race(running.values());
    running.delete(done.id);
    if (done.err !== undefined) throw done.err;
    if (next < items.length) start();
    yield* done.out!;
  }
}

/**
 * The shards to read for [from, to): the marked ones; or, for a window that starts before
 * markers were written (the runs just after an upgrade from a version without them), every
 * app's first shard (such a version wrote no other), as that version did.
 */
async function* activeShards(reads: ReconcileReads, from: string, to: string) {
  // A table that was never reconciled holds no event from before markers: they start at ''.
  const fresh = (await reads.store.reconciledUntil()) === null;
  const since = await reads.events.markersSince(fresh ? '' : new Date().toISOString());
  if (from >= since) {
    yield* reads.events.activeIn(from, to);
    return;
  }
  const walked = new Set<string>();
  for await (const appIds of reads.apps.appIdPages()) {
    for (const appId of appIds) walked.add(appId);
    yield appIds.map((appId) => ({ appId, shard: 0 }));
  }
  for await (const page of reads.events.activeIn(from, to)) {
    const rest = page.filter((a) => a.shard > 0 || !walked.has(a.appId));
    if (rest.length > 0) yield rest;
  }
}

/** Every app's events accepted in [from, to), a page at a time, each with its recorded deliveries. */
export async function* listAccepted(reads: ReconcileReads, from: string, to: string): AsyncIterable<AcceptedEvent[]> {
  yield* readAccepted(reads, from, to, async ({ appId, page, span, endpointIds, dlvShards }) => {
    // Per endpoint (and delivery partition), one keys-only query over the page's time span, not
    // one read per delivery. Eventually consistent: a record missed here is caught by
    // openPending's condition.
    const recordedBy = new Map(
      await Promise.all(
        endpointIds.map(async (id) => {
          const found = await Promise.all(
            dlvShards.map((shard) => reads.store.recordedBetween(appId, id, span.lo, span.hi, shard)),
          );
          return [id, new Set(found.flatMap((ids) => [...ids]))] as const;
        }),
      ),
    );
    return page.map((event) => ({
      event,
      recorded: new Set(event.endpointIds.filter((id) => recordedBy.get(id)?.has(event.id))),
    }));
  });
}

/**
 * Every app's deliveries, of events accepted in [from, to), that wait for a retry with no
 * open-index entry (the scheduler carries their message), a page of events at a time.
 */
export async function* listWaitingRetries(reads: ReconcileReads, from: string, to: string): AsyncIterable<Delivery[]> {
  const pages = readAccepted(reads, from, to, async ({ appId, span, endpointIds, dlvShards }) => {
    // Per endpoint (and delivery partition), one filtered query over the page's time span.
    // Eventually consistent: a retry that moved on meanwhile fails openWaitingRetry's condition.
    const found = await Promise.all(
      endpointIds.flatMap((id) =>
        dlvShards.map((shard) => reads.store.waitingRetriesBetween(appId, id, span.lo, span.hi, shard)),
      ),
    );
    return found.flat();
  });
  for await (const waiting of pages) if (waiting.length > 0) yield waiting;
}

/** Items one scheduled run looks at; the next run takes the rest. */
export const RUN_LIMIT = 1000;
/** Items a recover run looks at: every open item in practice (a valid DynamoDB Query Limit). */
export const RECOVER_LIMIT = 100_000;
/** Messages sent at a time, so the first are on their way while a long run goes on. */
const SEND_CHUNK = 100;

export function createHousekeeping(deps: HousekeepingDeps) {
  const now = deps.now ?? (() => new Date());
  const { store, life } = deps;

  async function reconcileWaitingRetries(
    at: Date,
    recover: boolean,
    report: HousekeepingReport,
    send: (m: DeliveryMessage) => Promise<void>,
  ) {
    const from = (await store.retriesReconciledUntil()) ?? '';
    // Recovering reads every event up to now, but the checkpoint stays where a scheduled run
    // would put it: a young event's retry written after this run (its first attempt still in
    // flight now) has no entry either, and a later run must still read it back.
    const settled = life.retriesReconciledBefore(at);
    const to = recover ? at.toISOString() : settled;
    if (to <= from) return;
    const nowIso = at.toISOString();
    const nextDue = life.redrivenDueAt(at);
    for await (const page of listWaitingRetries(deps, from, to)) {
      for (const d of page) {
        const dueMs = retryDueMs(d);
        if (recover && dueMs !== undefined && dueMs > at.getTime()) {
          // Its message is gone with the queues: send it again for its own time.
          const planned = life.plannedDueAt(dueMs);
          if (!(await store.openWaitingRetry(d, planned, { clearLease: true, planned: true }))) continue;
          await deps.scheduler.at(redriveMessage(d, dueMs), new Date(dueMs));
          report.scheduled++;
          report.reconciledRetries++;
          continue;
        }
        if (!recover && d.leaseUntil !== undefined && d.leaseUntil > nowIso) {
          // A worker holds it: on the open index from now (due when its lease has run out),
          // where step 1 re-drives it should that worker have died.
          if (!(await store.openWaitingRetry(d, nextDue, { planned: true }))) continue;
          report.skippedInFlight++;
          report.reconciledRetries++;
          continue;
        }
        if (!(await store.openWaitingRetry(d, nextDue, { clearLease: recover }))) continue;
        await send(redriveMessage(d));
        report.requeued++;
        report.reconciledRetries++;
      }
    }
    await store.setRetriesReconciledUntil(recover ? settled : to);
  }

  return {
    /**
     * One pass. With `recover`, every open item counts as due, leases are ignored and every event
     * not reconciled yet is reconciled at once (its first attempts and its waiting retries): for a
     * restart after a crash, when queue state may be gone and no worker is alive. A recover pass takes every open item (RECOVER_LIMIT).
     */
    async run(opts: { recover?: boolean; limit?: number } = {}): Promise<HousekeepingReport> {
      const at = now();
      const recover = opts.recover === true;
      const report: HousekeepingReport = {
        examined: 0,
        scheduled: 0,
        requeued: 0,
        reconciled: 0,
        reconciledRetries: 0,
        stuck: 0,
        skippedInFlight: 0,
      };
      const toSend: DeliveryMessage[] = [];
      // Strict deliveries are sent last, together, in accept order: a recover pass rebuilds each
      // key's line in the ordered lane as it was (their lane holds each until its due time).
      const ordered: DeliveryMessage[] = [];
      const send = async (m: DeliveryMessage) => {
        if (m.order) {
          ordered.push(m);
          return;
        }
        toSend.push(m);
        if (toSend.length >= SEND_CHUNK) await deps.scheduler.now(toSend.splice(0));
      };
      const nextDue = life.redrivenDueAt(at);

      // 1. The open index: what is overdue, and long waits coming within the horizon.
      const limit = opts.limit ?? (recover ? RECOVER_LIMIT : RUN_LIMIT);
      const items = await store.listDue(recover ? '9999' : at.toISOString(), limit);
      for (const item of items) {
        report.examined++;
        const d = item.delivery;
        if (!isActive(d.status)) continue;
        if (!recover && d.leaseUntil !== undefined && d.leaseUntil > at.toISOString()) {
          report.skippedInFlight++;
          continue;
        }
        if (d.order && recover) {
          // A strict delivery's record is parked (due in the year 9000), so only a recover pass
          // gets here: its message went with the queues. Its lane keeps its due time.
          await send(redriveMessage(d));
          report.requeued++;
          continue;
        }
        const dueMs = retryDueMs(d);
        if (dueMs !== undefined && dueMs > at.getTime()) {
          // A long wait coming due (or, recovering, any future retry): hand it over with its time.
          // Due again one lease after the attempt, in case this message is lost.
          if (!recover && !life.withinHorizon(at, dueMs)) continue;
          const planned = life.plannedDueAt(dueMs);
          if (!(await store.rescheduleDue(item, planned, { clearLease: recover, planned: true }))) continue;
          await deps.scheduler.at(redriveMessage(d, dueMs), new Date(dueMs));
          report.scheduled++;
          continue;
        }
        if (!(await store.rescheduleDue(item, nextDue, { clearLease: recover }))) continue;
        if ((d.requeues ?? 0) + 1 >= deps.stuckAfterRequeues) report.stuck++;
        await send(redriveMessage(d));
        report.requeued++;
      }
      // 2. First attempts: events a lease old (all of them, recovering) against their outcomes.
      //    After the open index, so that what this step puts there is not sent twice.
      const from = (await store.reconciledUntil()) ?? '';
      const to = recover ? at.toISOString() : life.firstAttemptLateBefore(at);
      if (to > from) {
        for await (const page of listAccepted(deps, from, to)) {
          for (const { event, recorded } of page) {
            for (const endpointId of event.endpointIds) {
              if (recorded.has(endpointId)) continue;
              const d = freshDelivery(keyOfEventDelivery(event, endpointId), event.type);
              // A strict one may just be waiting in its key's line: its record is parked (a
              // recover pass finds it), and the copy sent now is dropped by SQS within 5 minutes
              // of the original, or by its lane when it reaches a finished delivery.
              if (orderedAtAccept(event, endpointId)) d.order = orderOf(event);
              if (!(await deps.deliveries.openPending(d, d.order ? PARKED_DUE_AT : nextDue))) continue;
              await send(redriveMessage(d));
              report.reconciled++;
              report.requeued++;
            }
          }
        }
        await store.setReconciledUntil(to);
      }
      // 3. Retries the scheduler carries soon after their event, which wait on no index: read
      //    back once the event is RETRY_RECONCILE_AFTER_S old, when any still waiting is overdue
      //    by construction (lifecycle.retryWait). After step 1, for the same reason as step 2.
      await reconcileWaitingRetries(at, recover, report, send);

      if (toSend.length > 0) await deps.scheduler.now(toSend);
      if (ordered.length > 0) {
        const accepted = (m: DeliveryMessage) => `${m.eventAt ?? ''}#${m.eventId}`;
        await deps.scheduler.now(ordered.sort((a, b) => accepted(a).localeCompare(accepted(b))));
      }
      return report;
    },
  };
}
