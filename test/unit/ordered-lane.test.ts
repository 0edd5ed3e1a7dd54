/**
 * The ordered lane's batch: keys run side by side, a key's messages in order, and the first
 * message of a key that is not released holds the key (its visibility set to the wait) while the
 * key's later messages in the batch go back at once, behind it.
 */
import { describe, expect, it } from 'vitest';
import type { DeliveryMessage } from '../../functions/delivery/lifecycle';
import type { LaneVerdict } from '../../functions/ordering/ordered-delivery';
import { createOrderedLane, type LaneRecord } from '../../functions/ordering/ordered-lane';

const message = (eventId: string): DeliveryMessage => ({ v: 2, appId: 'app', eventId, endpointId: 'ep', attempt: 1 });
const rec = (eventId: string, groupId: string): LaneRecord => ({
  messageId: `m-${eventId}`,
  receiptHandle: `h-${eventId}`,
  body: JSON.stringify(message(eventId)),
  groupId,
});

function lane(verdicts: Record<string, LaneVerdict | Error>) {
  const handled: string[] = [];
  const changes: { receiptHandle: string; seconds: number }[] = [];
  const dead: string[] = [];
  const l = createOrderedLane({
    deliver: {
      async handle(m) {
        handled.push(m.eventId);
        const v = verdicts[m.eventId] ?? { release: true, outcome: 'succeeded' };
        if (v instanceof Error) throw v;
        return v;
      },
    },
    queue: {
      async changeVisibility(c) {
        changes.push(...c);
      },
      async deadLetterRaw(body) {
        dead.push(body);
      },
    },
    errorHoldMs: 30_000,
    now: () => 0,
  });
  return { l, handled, changes, dead };
}

describe('the ordered lane', () => {
  it('releases every message of keys that flow, in order', async () => {
    const { l, handled, changes } = lane({});
    const out = await l.handleBatch([rec('a1', 'a'), rec('b1', 'b'), rec('a2', 'a')]);
    expect(out.failed).toEqual([]);
    expect(handled.filter((id) => id.startsWith('a'))).toEqual(['a1', 'a2']);
    expect(changes).toEqual([]);
  });

  it('holds a key at its first unreleased message and sends the rest of that key back behind it', async () => {
    const { l, handled, changes } = lane({ a1: { release: false, holdMs: 4_500, outcome: 'retrying' } });
    const out = await l.handleBatch([rec('a1', 'a'), rec('b1', 'b'), rec('a2', 'a'), rec('a3', 'a'), rec('b2', 'b')]);
    expect(out.failed.sort()).toEqual(['m-a1', 'm-a2', 'm-a3']);
    expect(handled).not.toContain('a2');
    expect(handled.filter((id) => id.startsWith('b'))).toEqual(['b1', 'b2']);
    expect(changes).toEqual([
      { receiptHandle: 'h-a1', seconds: 5 },
      { receiptHandle: 'h-a2', seconds: 0 },
      { receiptHandle: 'h-a3', seconds: 0 },
    ]);
  });

  it('holds a message whose handling failed (an infrastructure error) for a while, not for its whole visibility', async () => {
    const { l, changes } = lane({ a1: new Error('table unavailable') });
    const out = await l.handleBatch([rec('a1', 'a')]);
    expect(out.failed).toEqual(['m-a1']);
    expect(changes).toEqual([{ receiptHandle: 'h-a1', seconds: 30 }]);
  });

  it('takes an unreadable message off its key (to the DLQ) instead of blocking the key', async () => {
    const { l, dead, handled } = lane({});
    const out = await l.handleBatch([{ ...rec('x', 'a'), body: 'not json' }, rec('a2', 'a')]);
    expect(out.failed).toEqual([]);
    expect(dead).toEqual(['not json']);
    expect(handled).toEqual(['a2']);
  });
});
