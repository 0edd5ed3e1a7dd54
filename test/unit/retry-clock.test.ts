/**
 * The default schedule on a virtual clock: a fake SQS delivers each message when its delay is up,
 * the worker handles it, housekeeping runs every minute, and every attempt fails. Each of the
 * eight attempts must fire within the stated tolerance of its due time, including the ones due
 * hours later, which wait on the open index until housekeeping sends them 15 minutes ahead.
 */
import { describe, expect, it } from 'vitest';
import { delaySeconds } from '../../functions/delivery/sqs-queues';
import { CONTRACT_DEFAULTS } from '../../functions/config';
import { createDeliverService } from '../../functions/delivery/deliver';
import { createEndpointHealth } from '../../functions/endpoints/endpoint-health';
import { createHousekeeping } from '../../functions/delivery/housekeeping';
import { firstAttemptMessage, lifecycle, type DeliveryMessage } from '../../functions/delivery/lifecycle';
import { RetryPolicy } from '../../functions/delivery/retry-policy';
import { generateSecret } from '../../functions/webhook/signing';
import { fakeStores, RecordingScheduler, ScriptedSender, status } from '../helpers/fakes';

/** Lateness allowed by the design: delays are rounded up to SQS's whole seconds. */
const TOLERANCE_MS = 1000;

describe('the default retry schedule on a virtual clock', () => {
  it('fires all eight attempts within a second of their due times, the long waits included', async () => {
    let clock = Date.parse('2026-11-22T00:00:00Z');
    const stores = fakeStores();
    const event = {
      id: 'e',
      appId: 'a',
      type: 't',
      timestamp: new Date(clock).toISOString(),
      dataJson: '{}',
      requestHash: 'h',
      endpointIds: ['p'],
      skippedEndpointIds: [],
    };
    stores.apps.putApp({ id: 'a', name: 'a', createdAt: event.timestamp });
    stores.events.put(event);
    stores.apps.putEndpoint({
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
    const key = { appId: 'a', eventId: 'e', endpointId: 'p', eventAt: event.timestamp };

    // The queues as SQS runs them: a message becomes visible after the delay SQS is asked for
    // (the SQS adapter's own rounding and 900 s cap), carrying its time in `notBefore`.
    const queue: { visibleAt: number; message: DeliveryMessage }[] = [];
    const scheduler = {
      now: async (messages: DeliveryMessage[]) =>
        void messages.forEach((message) => queue.push({ visibleAt: clock, message })),
      at: async (message: DeliveryMessage, at: Date) => {
        queue.push({
          visibleAt: clock + delaySeconds(at, new Date(clock)) * 1000,
          message: { ...message, notBefore: at.getTime() },
        });
      },
    };
    const life = lifecycle({ leaseS: 300 });
    const sender = new ScriptedSender([status(500)]);
    const service = createDeliverService({
      events: stores.events,
      store: stores.deliveries,
      endpoints: stores.apps,
      health: createEndpointHealth({ store: stores.apps, disableAfterFailingS: 30 * 86_400 }),
      sender,
      scheduler,
      deadLetters: new RecordingScheduler(),
      policy: new RetryPolicy({ scheduleS: CONTRACT_DEFAULTS.retryScheduleS, jitter: 0.1 }),
      life,
      timeoutMs: 10_000,
      userAgent: 'hookrelay/test',
      now: () => new Date(clock),
    });

    const housekeeping = createHousekeeping({
      ...stores,
      store: stores.housekeeping,
      scheduler,
      life,
      stuckAfterRequeues: 3,
      now: () => new Date(clock),
    });
    const HOUSEKEEPING_EVERY_MS = 60_000;
    let nextHousekeeping = clock + HOUSEKEEPING_EVERY_MS;

    const attempts: { at: number; due: number }[] = [];
    let due = clock;
    let hops = 0;
    let scheduledByHousekeeping = 0;
    queue.push({ visibleAt: clock, message: firstAttemptMessage(event, { id: 'p', version: 0 }) });
    const delivery = () => stores.deliveries.record(key);
    while (delivery()?.status !== 'failed') {
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
        const d = delivery()!;
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
    expect(delivery()!.status).toBe('failed');
  });
});
