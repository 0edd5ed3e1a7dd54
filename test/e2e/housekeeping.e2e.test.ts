/**
 * Housekeeping, end to end on the embedded stack: the queues lose a retry that was waiting, and
 * the sweep puts the delivery back on its way from what the table says. (A deployed target has
 * no way to drop its queue's messages, so this file runs on the embedded stack only.)
 */
import { describe, expect, it } from 'vitest';
import { useSystem } from '../helpers/e2e';

// A 5-second first retry: long enough that the lost message cannot have been delivered first;
// recovery sends it again, due at the same time, so the second attempt comes ~5 s after the first.
const system = useSystem({ HOOKRELAY_RETRY_SCHEDULE: '5,1' });

describe('housekeeping', () => {
  it('re-drives a retry whose queued message was lost, and the delivery succeeds', async (ctx) => {
    if (!system.target.restartSqs) ctx.skip();
    const appId = await system.api.createApp('housekeeping');
    const url = system.hook([500, 200]);
    await system.api.createEndpoint(appId, url);
    const sent = await system.api.sendEvent(appId, { type: 'order.created', data: { n: 1 } });
    await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'retrying');

    const report = (await system.target.restartSqs!()) as { requeued: number; scheduled: number };

    expect(report.requeued + report.scheduled).toBeGreaterThanOrEqual(1);
    const done = await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'succeeded', 10_000);
    expect(done.deliveries[0]?.attempts).toBe(2);
  });
});
