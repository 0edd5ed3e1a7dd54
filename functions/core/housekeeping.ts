/**
 * Housekeeping: reconcile the table (the truth) against the queues. Every unfinished event and
 * delivery sits on the open index with a due time; anything past due is re-driven:
 * - an event whose fan-out never completed (a crash between the table write and the queue send)
 *   gets its missing deliveries recorded and enqueued;
 * - a delivery whose message is lost (a queue that lost state, a send that failed, a worker that
 *   died mid-attempt past its lease) is enqueued again for its next attempt.
 * Each re-drive first moves the due time forward with a conditional write, so that concurrent
 * runs never enqueue the same item twice, and duplicates that do reach a worker are dropped there.
 */
import type { DeliveryMessage } from './messages';
import type { Delivery, StoredEvent } from './model';

export type OpenItem =
  | { kind: 'event'; dueAt: string; event: StoredEvent }
  | { kind: 'delivery'; dueAt: string; delivery: Delivery & { requeues?: number } };

export interface HousekeepingStore {
  /** Open items due before `cutoff` (ISO), oldest first, across all shards. */
  listDue(cutoff: string, limit: number): Promise<OpenItem[]>;
  /**
   * Moves an item's due time from `item.dueAt` to `toDueAt` (counting a re-drive, and dropping a
   * dead worker's lease when `clearLease`); false if someone else moved it first.
   */
  rescheduleDue(item: OpenItem, toDueAt: string, opts?: { clearLease?: boolean }): Promise<boolean>;
}

export interface HousekeepingDeps {
  store: HousekeepingStore;
  enqueue(messages: DeliveryMessage[]): Promise<void>;
  completeFanOut(event: StoredEvent): Promise<number>;
  leaseS: number;
  /** A delivery re-driven this many times without progress is reported as stuck. */
  stuckAfterRequeues: number;
  now?: () => Date;
}

export interface HousekeepingReport {
  examined: number;
  fannedOut: number;
  requeued: number;
  stuck: number;
  skippedInFlight: number;
}

export function createHousekeeping(deps: HousekeepingDeps) {
  const now = deps.now ?? (() => new Date());

  return {
    /**
     * One pass. With `recover`, every open item counts as due and leases are ignored: for a
     * restart after a crash, when queue state may be gone and no worker is alive.
     */
    async run(opts: { recover?: boolean; limit?: number } = {}): Promise<HousekeepingReport> {
      const at = now();
      const cutoff = opts.recover ? '9999' : at.toISOString();
      const report: HousekeepingReport = { examined: 0, fannedOut: 0, requeued: 0, stuck: 0, skippedInFlight: 0 };
      const items = await deps.store.listDue(cutoff, opts.limit ?? 1000);
      const nextDue = new Date(at.getTime() + deps.leaseS * 1000).toISOString();
      const toSend: DeliveryMessage[] = [];

      for (const item of items) {
        report.examined++;
        if (item.kind === 'event') {
          if (!(await deps.store.rescheduleDue(item, nextDue))) continue;
          report.fannedOut += await deps.completeFanOut(item.event);
          continue;
        }
        const d = item.delivery;
        if (d.status !== 'pending' && d.status !== 'retrying') continue;
        if (!opts.recover && d.leaseUntil !== undefined && d.leaseUntil > at.toISOString()) {
          report.skippedInFlight++;
          continue;
        }
        if (!(await deps.store.rescheduleDue(item, nextDue, { clearLease: opts.recover === true }))) continue;
        if ((d.requeues ?? 0) + 1 >= deps.stuckAfterRequeues) report.stuck++;
        const message: DeliveryMessage = {
          v: 1,
          appId: d.appId,
          eventId: d.eventId,
          endpointId: d.endpointId,
          attempt: d.attempts + 1,
        };
        if (d.status === 'retrying' && d.nextAttemptAt !== undefined) message.notBefore = Date.parse(d.nextAttemptAt);
        toSend.push(message);
      }
      if (toSend.length > 0) await deps.enqueue(toSend);
      report.requeued = toSend.length;
      return report;
    },
  };
}
