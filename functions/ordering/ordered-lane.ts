/**
 * The ordered lane's batch: what Lambda's event source mapping hands the delivery function from
 * the FIFO queue. Message groups (keys) run concurrently; the messages of one group run in order,
 * and the first that is not released stops its group: it is held (its visibility set to the wait,
 * so its group stays blocked), and the group's later messages in the batch go back at once
 * (visibility 0: the held head still blocks them). All of them are reported as batch item
 * failures, which SQS keeps; released messages are deleted by Lambda. This is Powertools'
 * SqsFifoPartialProcessor with `skipGroupOnError`, plus the holds.
 */
import { isDeliveryMessage, type DeliveryMessage } from '../delivery/lifecycle';
import type { LaneReceive, LaneVerdict } from './ordered-delivery';

/** One record of the batch, as the handler reads it. */
export interface LaneRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  groupId: string;
}

/** Visibility changes on the FIFO queue, and where unreadable messages go. */
export interface LaneQueue {
  /** Sets each message's visibility (seconds from now); failures are logged, never thrown. */
  changeVisibility(changes: { receiptHandle: string; seconds: number }[]): Promise<void>;
  /** An unreadable message, kept for a person (the DLQ) before it is deleted. */
  deadLetterRaw(body: string, reason: string): Promise<void>;
}

export interface OrderedLaneDeps {
  deliver: { handle(m: DeliveryMessage, r: LaneReceive): Promise<LaneVerdict> };
  queue: LaneQueue;
  /** How long a message whose handling threw (an infrastructure error) waits before it is tried again. */
  errorHoldMs: number;
  now?: () => number;
  onError?: (err: unknown, record: LaneRecord) => void;
}

export function createOrderedLane(deps: OrderedLaneDeps) {
  const now = deps.now ?? Date.now;

  async function verdictOf(rec: LaneRecord, receivedAtMs: number): Promise<LaneVerdict> {
    let message: unknown;
    try {
      message = JSON.parse(rec.body);
    } catch {
      message = undefined;
    }
    if (!isDeliveryMessage(message)) {
      // Not ours or corrupt: to the DLQ for a person, off the line (it would block its group).
      await deps.queue.deadLetterRaw(rec.body, `message ${rec.messageId} is not a delivery message`);
      return { release: true, outcome: 'unreadable' };
    }
    try {
      return await deps.deliver.handle(message, { receiptHandle: rec.receiptHandle, receivedAtMs });
    } catch (err) {
      deps.onError?.(err, rec);
      return { release: false, holdMs: deps.errorHoldMs, outcome: 'error' };
    }
  }

  return {
    /** Handles a batch; resolves with the ids of the messages SQS must keep. */
    async handleBatch(records: LaneRecord[]): Promise<{ failed: string[]; outcomes: Record<string, string> }> {
      const receivedAtMs = now();
      const groups = new Map<string, LaneRecord[]>();
      for (const r of records) groups.set(r.groupId, [...(groups.get(r.groupId) ?? []), r]);
      const failed: string[] = [];
      const changes: { receiptHandle: string; seconds: number }[] = [];
      const outcomes: Record<string, string> = {};
      await Promise.all(
        [...groups.values()].map(async (group) => {
          for (const [i, rec] of group.entries()) {
            const v = await verdictOf(rec, receivedAtMs);
            outcomes[rec.messageId] = v.outcome;
            if (v.release) continue;
            changes.push({ receiptHandle: rec.receiptHandle, seconds: Math.ceil(v.holdMs / 1000) });
            failed.push(rec.messageId);
            for (const rest of group.slice(i + 1)) {
              changes.push({ receiptHandle: rest.receiptHandle, seconds: 0 });
              failed.push(rest.messageId);
              outcomes[rest.messageId] = 'behind';
            }
            return;
          }
        }),
      );
      if (changes.length > 0) await deps.queue.changeVisibility(changes);
      return { failed, outcomes };
    },
  };
}

export type OrderedLane = ReturnType<typeof createOrderedLane>;
