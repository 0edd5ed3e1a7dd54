/**
 * Latency from acceptance to arrival: for each event, the time from the moment its POST's 202
 * reached the producer to the moment the first byte of its webhook reached the receiver (the
 * recording receiver stamps `at` when a request starts arriving).
 *
 * Events are sent open loop, at a fixed rate (each on its own schedule, whether or not earlier
 * ones have been answered), so a slow moment delays the events behind it and shows in the tail
 * rather than slowing the sender down (no coordinated omission).
 */
import type { Harness } from './harness';
import { checkExactlyOnce, eventData, percentile } from './cost';

export interface LatencyResult {
  events: number;
  ratePerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** Webhooks whose first byte arrived before the producer had read the 202 (the work is queued first). */
  arrivedBeforeAccept: number;
  exactlyOnce: boolean;
}

export async function runLatency(
  h: Harness,
  events: number,
  ratePerSecond: number,
  runId: string,
): Promise<LatencyResult> {
  const appId = await h.api.createApp('latency');
  const url = h.receiver.endpoint([200]);
  const ep = await h.api.call('POST', `/v1/apps/${appId}/endpoints`, { url });
  if (ep.status !== 201) throw new Error(`create endpoint: ${ep.status}`);
  // Warm-up: the first invocation of each function loads its modules and builds its clients.
  for (let i = 0; i < 5; i++) await h.api.sendEvent(appId, { type: 'warm.up', data: {}, id: `${runId}-warm-${i}` });
  await h.settle(5);
  h.receiver.received.length = 0;

  const acceptedAt = new Map<string, number>();
  const started = performance.now();
  const sends: Array<Promise<void>> = [];
  for (let n = 0; n < events; n++) {
    const due = started + (n * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = `${runId}-lat-${n}`;
    sends.push(
      h.api.sendEvent(appId, { type: 'invoice.paid', data: eventData(), id }).then((r) => {
        if (r.status !== 202) throw new Error(`POST /events: ${r.status} ${JSON.stringify(r.body)}`);
        acceptedAt.set(id, Date.now());
      }),
    );
  }
  await Promise.all(sends);
  await h.settle(events);

  const firstByte = new Map<string, number>();
  for (const r of h.receiver.received) {
    const id = r.headers['webhook-id'] ?? '';
    if (!firstByte.has(id)) firstByte.set(id, r.at);
  }
  const latencies: number[] = [];
  for (const [id, accepted] of acceptedAt) {
    const at = firstByte.get(id);
    if (at !== undefined) latencies.push(at - accepted);
  }
  const once = checkExactlyOnce(
    h.receiver.received,
    [...acceptedAt.keys()].map((eventId) => ({ appId, eventId })),
    new Map([[appId, [url]]]),
    1,
  );
  return {
    events,
    ratePerSecond,
    p50Ms: percentile(latencies, 50),
    p95Ms: percentile(latencies, 95),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
    meanMs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    arrivedBeforeAccept: latencies.filter((l) => l < 0).length,
    exactlyOnce: once.ok && latencies.length === events,
  };
}
