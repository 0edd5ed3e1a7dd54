/**
 * Housekeeping: reconcile the table (the truth) against the queues. Two kinds of unfinished work:
 * - first attempts, which have no record until their outcome: each event is read once, when it
 *   is a lease old, against the outcomes recorded for it; a delivery with none is late (a crash
 *   between the event write and its message, a lost message, a dead worker), gets a pending
 *   record on the open index, and is sent again. Reading costs a fifth of the write an index
 *   entry for every first attempt would;
 * - everything else that is unfinished sits on the open index with a due time: a delivery past
 *   it is sent again, and a retry waiting longer than the scheduler's horizon is handed to it
 *   once it comes within it.
 * Each re-drive first moves the due time (or creates the record) with a conditional write, so
 * concurrent runs never send the same item twice; duplicates that do reach a worker are dropped
 * there.
 */
import {
  freshDelivery,
  isActive,
  redriveMessage,
  retryDueMs,
  type DeliveryMessage,
  type DeliveryScheduler,
  type Lifecycle,
} from './lifecycle';
import type { AcceptedEventRef, Delivery } from './model';

export interface OpenItem {
  dueAt: string;
  delivery: Delivery;
}

/** An event, and the endpoints whose deliveries of it have a record. */
export interface AcceptedEvent {
  event: AcceptedEventRef;
  recorded: ReadonlySet<string>;
}

export interface HousekeepingStore {
  /** Open items due before `cutoff` (ISO), oldest first, across all shards. */
  listDue(cutoff: string, limit: number): Promise<OpenItem[]>;
  /**
   * Moves an item's due time from `item.dueAt` to `toDueAt` (counting a re-drive unless it is the
   * `planned` send of a long wait, and dropping a dead worker's lease when `clearLease`); false if
   * someone else moved it first.
   */
  rescheduleDue(item: OpenItem, toDueAt: string, opts?: { clearLease?: boolean; planned?: boolean }): Promise<boolean>;
  /** Every app's events accepted in [from, to), a page at a time, each with its recorded deliveries. */
  listAccepted(from: string, to: string): AsyncIterable<AcceptedEvent[]>;
  /** Gives a late first attempt a pending record on the open index; false if it has a record. */
  openLateDelivery(d: Delivery, dueAt: string): Promise<boolean>;
  /** Up to when every event has been reconciled (null: never). */
  reconciledUntil(): Promise<string | null>;
  setReconciledUntil(until: string): Promise<void>;
}

export interface HousekeepingDeps {
  store: HousekeepingStore;
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
  stuck: number;
  skippedInFlight: number;
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

  return {
    /**
     * One pass. With `recover`, every open item counts as due, leases are ignored and every event
     * not reconciled yet is reconciled at once: for a restart after a crash, when queue state may
     * be gone and no worker is alive. A recover pass takes every open item (RECOVER_LIMIT).
     */
    async run(opts: { recover?: boolean; limit?: number } = {}): Promise<HousekeepingReport> {
      const at = now();
      const recover = opts.recover === true;
      const report: HousekeepingReport = {
        examined: 0,
        scheduled: 0,
        requeued: 0,
        reconciled: 0,
        stuck: 0,
        skippedInFlight: 0,
      };
      const toSend: DeliveryMessage[] = [];
      const send = async (m: DeliveryMessage) => {
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
        const dueMs = retryDueMs(d);
        if (dueMs !== undefined && dueMs > at.getTime()) {
          // A long wait coming due (or, recovering, any future retry): hand it over with its time.
          // Due again one lease after the attempt, in case this message is lost.
          if (!recover && !life.withinHorizon(at, dueMs)) continue;
          const planned = new Date(dueMs + life.leaseMs).toISOString();
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
        for await (const page of store.listAccepted(from, to)) {
          for (const { event, recorded } of page) {
            for (const endpointId of event.endpointIds) {
              if (recorded.has(endpointId)) continue;
              const key = { appId: event.appId, eventId: event.id, endpointId, eventAt: event.timestamp };
              const d = freshDelivery(key, event.type);
              if (!(await store.openLateDelivery(d, nextDue))) continue;
              await send(redriveMessage(d));
              report.reconciled++;
              report.requeued++;
            }
          }
        }
        await store.setReconciledUntil(to);
      }

      if (toSend.length > 0) await deps.scheduler.now(toSend);
      return report;
    },
  };
}
