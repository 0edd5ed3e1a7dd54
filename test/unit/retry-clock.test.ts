/**
 * The default schedule on a virtual clock: a fake SQS delivers each message when its delay is up,
 * the worker handles it, housekeeping runs every minute, and every attempt fails. Each of the
 * eight attempts must fire within the stated tolerance of its due time, including the ones due
 * hours later, which wait on the open index until housekeeping sends them 15 minutes ahead.
 */
import { describe, expect, it } from 'vitest';
import { createDeliverService } from '../../functions/core/deliver';
import { createHousekeeping } from '../../functions/core/housekeeping';
import type { DeliveryMessage } from '../../functions/core/messages';
import { RetryPolicy } from '../../functions/core/retry-policy';
import { generateSecret } from '../../functions/core/signing';
import { MAX_SQS_DELAY_S } from '../../functions/adapters/sqs-queues';
import { topology } from '../../infra/topology';
import { FakeDeliveryStore, RecordingQueue, ScriptedSender, status } from '../helpers/fakes';

/** Lateness allowed by the design: delays are rounded up to SQS's whole seconds. */
const TOLERANCE_MS = 1000;

describe('the default retry schedule on a virtual clock', () => {
  it('fires all eight attempts within a second of their due times, the long waits included', async () => {
    let clock = Date.parse('2026-11-22T00:00:00Z');
    const store = new FakeDeliveryStore();
    store.events.set('a/e', {
      id: 'e',
      appId: 'a',
      type: 't',
      timestamp: new Date(clock).toISOString(),
      dataJson: '{}',
      requestHash: 'h',
      endpointIds: ['p'],
      skippedEndpointIds: [],
    });
    store.deliveries.set('a/e/p', {
      appId: 'a',
      eventId: 'e',
      endpointId: 'p',
      status: 'pending',
      attempts: 0,
      createdAt: '',
    });
    store.endpoints.set('a/p', {
      id: 'p',
      appId: 'a',
      url: 'https://example.com',
      eventTypes: [],
      description: '',
      enabled: true,
      createdAt: '',
      updatedAt: '',
      version: 0,
      secrets: [{ key: generateSecret(), createdAt: '' }],
    });

    // The queue: messages become visible `delayS` after they were sent.
    const queue: { visibleAt: number; message: DeliveryMessage }[] = [];
    const retryQueue = {
      schedule: async (message: DeliveryMessage, delayS: number) => {
        expect(delayS).toBeLessThanOrEqual(MAX_SQS_DELAY_S);
        queue.push({ visibleAt: clock + delayS * 1000, message });
      },
    };
    const sender = new ScriptedSender([status(500)]);
    const service = createDeliverService({
      store,
      sender,
      retryQueue,
      deadLetters: new RecordingQueue(),
      policy: new RetryPolicy({ scheduleS: topology.defaultRetryScheduleS, jitter: topology.retryJitter }),
      timeoutMs: 10_000,
      leaseS: 300,
      retentionDays: 30,
      disableAfterFailingS: 30 * 86_400,
      userAgent: 'hookrelay/test',
      now: () => new Date(clock),
    });

    const housekeeping = createHousekeeping({
      store,
      enqueue: async (messages) => void messages.forEach((message) => queue.push({ visibleAt: clock, message })),
      schedule: retryQueue.schedule,
      leaseS: 300,
      stuckAfterRequeues: 3,
      now: () => new Date(clock),
    });
    const HOUSEKEEPING_EVERY_MS = 60_000;
    let nextHousekeeping = clock + HOUSEKEEPING_EVERY_MS;

    const attempts: { at: number; due: number }[] = [];
    let due = clock;
    let hops = 0;
    let scheduledByHousekeeping = 0;
    queue.push({ visibleAt: clock, message: { v: 1, appId: 'a', eventId: 'e', endpointId: 'p', attempt: 1 } });
    while (store.deliveries.get('a/e/p')!.status !== 'failed') {
      queue.sort((x, y) => x.visibleAt - y.visibleAt);
      if (queue.length === 0 || queue[0]!.visibleAt >= nextHousekeeping) {
        clock = nextHousekeeping;
        nextHousekeeping += HOUSEKEEPING_EVERY_MS;
        const report = await housekeeping.run();
        scheduledByHousekeeping += report.scheduled;
        expect(report.requeued).toBe(0); // nothing was lost, so nothing is re-driven
        continue;
      }
      const next = queue.shift()!;
      clock = next.visibleAt;
      const before = sender.requests.length;
      const outcome = await service.handle(next.message);
      if (outcome === 'hopped') hops++;
      if (sender.requests.length > before) {
        attempts.push({ at: clock, due });
        const d = store.deliveries.get('a/e/p')!;
        if (d.nextAttemptAt) due = Date.parse(d.nextAttemptAt);
      }
    }

    expect(attempts).toHaveLength(8);
    for (const a of attempts) {
      expect(a.at - a.due).toBeGreaterThanOrEqual(0);
      expect(a.at - a.due).toBeLessThan(TOLERANCE_MS);
    }
    // The five waits beyond 900 s (30 min, 2 h, 5 h, 10 h, 10 h) were each sent once, by
    // housekeeping, with their exact remaining delay: no hops.
    expect(scheduledByHousekeeping).toBe(5);
    expect(hops).toBe(0);
    const total = attempts.at(-1)!.at - attempts[0]!.at;
    expect(total / 3_600_000).toBeGreaterThan(27.6 * 0.9);
    expect(total / 3_600_000).toBeLessThan(27.6 * 1.1);
    expect(store.deliveries.get('a/e/p')!.status).toBe('failed');
  });
});
