/** Concurrent first attempts of the bus's ingest share SendMessageBatch requests. */
import { describe, expect, it } from 'vitest';
import { CoalescingScheduler } from '../../functions/delivery/sqs-queues';
import type { DeliveryMessage, DeliveryScheduler } from '../../functions/delivery/lifecycle';

const message = (n: number): DeliveryMessage => ({ v: 2, appId: 'a', eventId: `e${n}`, endpointId: 'ep', attempt: 1 });

function recording(fail = false) {
  const calls: string[][] = [];
  const inner: DeliveryScheduler = {
    now: async (ms) => {
      calls.push(ms.map((m) => m.eventId));
      if (fail) throw new Error('SQS unavailable');
    },
    at: async () => {},
  };
  return { inner, calls };
}

describe('CoalescingScheduler', () => {
  it('sends what callers hand over within its window in one call, and resolves each caller', async () => {
    const { inner, calls } = recording();
    const s = new CoalescingScheduler(inner, 20);
    const done: number[] = [];
    await Promise.all(
      [0, 1, 2].map(async (n) => {
        await new Promise((r) => setTimeout(r, n * 2));
        await s.now([message(n)]);
        done.push(n);
      }),
    );
    expect(calls).toEqual([['e0', 'e1', 'e2']]);
    expect(done.sort()).toEqual([0, 1, 2]);
  });

  it('starts a new call for what comes after a flush', async () => {
    const { inner, calls } = recording();
    const s = new CoalescingScheduler(inner, 5);
    await s.now([message(0)]);
    await s.now([message(1)]);
    expect(calls).toEqual([['e0'], ['e1']]);
  });

  it('rejects every caller of a failed send, so none reports its event done', async () => {
    const { inner } = recording(true);
    const s = new CoalescingScheduler(inner, 5);
    const results = await Promise.allSettled([s.now([message(0)]), s.now([message(1)])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
