/**
 * Housekeeping: reconcile the table (the truth) against the queues. Every unfinished delivery
 * sits on the open index with a due time; anything past due is re-driven:
 * - a delivery whose message never left or is lost (a crash between the table write and the
 *   queue send, a queue that lost state, a worker that died mid-attempt past its lease) is
 *   enqueued again for its next attempt;
 * - a retry waiting longer than SQS can delay is sent, with its exact remaining delay, once it
 *   is within 15 minutes of its due time.
 * Each re-drive first moves the due time forward with a conditional write, so that concurrent
 * runs never enqueue the same item twice, and duplicates that do reach a worker are dropped there.
 */
import { MAX_SQS_DELAY_S } from '../adapters/sqs-queues';
import type { DeliveryMessage } from './messages';
import type { Delivery } from './model';

export interface OpenItem {
  dueAt: string;
  delivery: Delivery & { requeues?: number };
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
}

export interface HousekeepingDeps {
  store: HousekeepingStore;
  enqueue(messages: DeliveryMessage[]): Promise<void>;
  /** Sends one message with a delay of at most 900 s (the retry queue). */
  schedule(message: DeliveryMessage, delayS: number): Promise<void>;
  leaseS: number;
  /** A delivery re-driven this many times without progress is reported as stuck. */
  stuckAfterRequeues: number;
  now?: () => Date;
}

export interface HousekeepingReport {
  examined: number;
  /** Retries waiting longer than SQS can delay, sent now that they are within 15 minutes. */
  scheduled: number;
  requeued: number;
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

  return {
    /**
     * One pass. With `recover`, every open item counts as due and leases are ignored: for a
     * restart after a crash, when queue state may be gone and no worker is alive. A recover pass
     * takes every open item (RECOVER_LIMIT), not RUN_LIMIT of them: the others would wait minutes
     * for their due times (a dead worker's lease, a lost retry's time plus a lease).
     */
    async run(opts: { recover?: boolean; limit?: number } = {}): Promise<HousekeepingReport> {
      const at = now();
      const cutoff = opts.recover ? '9999' : at.toISOString();
      const report: HousekeepingReport = { examined: 0, scheduled: 0, requeued: 0, stuck: 0, skippedInFlight: 0 };
      const limit = opts.limit ?? (opts.recover ? RECOVER_LIMIT : RUN_LIMIT);
      const items = await deps.store.listDue(cutoff, limit);
      const nextDue = new Date(at.getTime() + deps.leaseS * 1000).toISOString();
      const toSend: DeliveryMessage[] = [];

      for (const item of items) {
        report.examined++;
        const d = item.delivery;
        if (d.status !== 'pending' && d.status !== 'retrying') continue;
        if (!opts.recover && d.leaseUntil !== undefined && d.leaseUntil > at.toISOString()) {
          report.skippedInFlight++;
          continue;
        }
        const message: DeliveryMessage = {
          v: 1,
          appId: d.appId,
          eventId: d.eventId,
          endpointId: d.endpointId,
          attempt: d.attempts + 1,
        };
        const dueMs =
          d.status === 'retrying' && d.nextAttemptAt !== undefined ? Date.parse(d.nextAttemptAt) : undefined;
        if (dueMs !== undefined && dueMs > at.getTime()) {
          // A long wait coming due (or, in recovery, any future retry): send it with its delay.
          // Due again one lease after the attempt, in case this message is lost.
          const planned = new Date(dueMs + deps.leaseS * 1000).toISOString();
          if (!(await deps.store.rescheduleDue(item, planned, { clearLease: opts.recover === true, planned: true })))
            continue;
          message.notBefore = dueMs;
          await deps.schedule(message, Math.min(MAX_SQS_DELAY_S, Math.ceil((dueMs - at.getTime()) / 1000)));
          report.scheduled++;
          continue;
        }
        if (!(await deps.store.rescheduleDue(item, nextDue, { clearLease: opts.recover === true }))) continue;
        if ((d.requeues ?? 0) + 1 >= deps.stuckAfterRequeues) report.stuck++;
        toSend.push(message);
        report.requeued++;
        if (toSend.length >= SEND_CHUNK) await deps.enqueue(toSend.splice(0));
      }
      if (toSend.length > 0) await deps.enqueue(toSend);
      return report;
    },
  };
}
