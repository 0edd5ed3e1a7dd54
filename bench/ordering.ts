/**
 * Ordered delivery (docs/ordering.md), measured on the embedded stack: one strict endpoint, 100
 * ordering keys, each key's events sent one after the other (each answered 202 before the next),
 * 20 producers sending round-robin over their keys. The receiver answers 200 at once.
 *
 * - deliveries/s: accepted events / (last arrival - first send), the drain included;
 * - per-key latency: from an event's 202 to its arrival, p50 / p95 / max over every event;
 * - order: every key's events must arrive in accept order, each exactly once (checked, not
 *   assumed: a run that breaks it throws);
 * - cost: what the meter counted in the window (DynamoDB units, SQS requests, Lambda), priced
 *   with bench/prices.ts, every SQS request at the FIFO price (in this scenario they all go to the
 *   ordered lane's FIFO queue: the ingest's sends, the event source's receives and deletes).
 */
import { loadavg } from 'node:os';
import { PRICES } from './prices';
import { startHarness, type Harness } from './harness';
import { eventData } from './cost';
import type { FunctionName } from '../infra/local/lambda';

export interface OrderingSettings {
  keys: number;
  eventsPerKey: number;
  pollers: number;
}

export interface OrderingResult {
  keys: number;
  events: number;
  deliveriesPerSecond: number;
  latencyMs: { p50: number; p95: number; max: number };
  writeUnitsPerDelivery: number;
  readUnitsPerDelivery: number;
  sqsRequestsPerDelivery: number;
  lambdaInvocationsPerDelivery: number;
  /** DynamoDB and SQS (FIFO) per million deliveries: what ordering changes. */
  storageAndQueuesPerMillion: number;
  fifoPricePerMillionRequests: number;
  inOrder: true;
  /** The same run on an unordered endpoint, right after: the comparison at the same machine load. */
  unordered: Pick<
    OrderingResult,
    'deliveriesPerSecond' | 'latencyMs' | 'writeUnitsPerDelivery' | 'readUnitsPerDelivery' | 'sqsRequestsPerDelivery'
  >;
  /** The machine's load average during the run (2 cores here): absolute rates fall with it. */
  loadAverage: number;
}

/** Concurrent senders. */
const PRODUCERS = 20;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;

/**
 * The ordered run, then the same run on an unordered endpoint (same keys, same sending, same
 * machine load): what ordering costs in throughput and latency, measured side by side.
 */
export async function runOrdering(s: OrderingSettings): Promise<OrderingResult> {
  // One stack for both: the functions read their environment once per process.
  const h = await startHarness({ pollerConcurrency: s.pollers, env: { POWERTOOLS_LOG_LEVEL: 'ERROR' } });
  let ordered: Omit<OrderingResult, 'unordered'>;
  let unordered: Omit<OrderingResult, 'unordered'>;
  try {
    ordered = await runOnce(h, s, true);
    unordered = await runOnce(h, s, false);
  } finally {
    await h.stop();
  }
  return {
    ...ordered,
    unordered: {
      deliveriesPerSecond: unordered.deliveriesPerSecond,
      latencyMs: unordered.latencyMs,
      writeUnitsPerDelivery: unordered.writeUnitsPerDelivery,
      readUnitsPerDelivery: unordered.readUnitsPerDelivery,
      sqsRequestsPerDelivery: unordered.sqsRequestsPerDelivery,
    },
  };
}

async function runOnce(h: Harness, s: OrderingSettings, strict: boolean): Promise<Omit<OrderingResult, 'unordered'>> {
  {
    const appId = await h.api.createApp('bench-ordering');
    const url = h.receiver.endpoint([200]);
    await h.api.createEndpoint(appId, url, strict ? { ordering: 'strict' } : {});
    const path = new URL(url).pathname;
    h.meter.reset();
    const receivedBefore = h.receiver.received.length;

    const acceptedAt = new Map<string, number>();
    const keyOf = new Map<string, string>();
    const order = new Map<string, string[]>();
    const start = Date.now();
    // 20 producers, each owning keys it sends round-robin: a key's events still go one after the
    // other (each answered 202 before the next), without 100 requests at once on a 2-core machine.
    const producers = Math.min(PRODUCERS, s.keys);
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        const mine = Array.from({ length: s.keys }, (_, k) => k).filter((k) => k % producers === p);
        for (let n = 0; n < s.eventsPerKey; n++) {
          for (const k of mine) {
            const key = `key-${k}`;
            // hookrelay makes the id (a producer's own id costs a record of its own: see cost.ts).
            const r = await h.api.call<{ id: string }>('POST', `/v1/apps/${appId}/events`, {
              type: 'order.updated',
              data: eventData(),
              orderingKey: key,
            });
            if (r.status !== 202) throw new Error(`POST /events: ${r.status} ${JSON.stringify(r.body)}`);
            acceptedAt.set(r.body.id, Date.now());
            keyOf.set(r.body.id, key);
            order.set(key, [...(order.get(key) ?? []), r.body.id]);
          }
        }
      }),
    );
    const events = s.keys * s.eventsPerKey;
    await h.settle(receivedBefore + events, 180_000);

    const arrivals = h.receiver.on(path);
    const seen = new Map<string, string[]>();
    for (const r of arrivals) {
      const id = r.headers['webhook-id'] ?? '';
      const key = keyOf.get(id) ?? '?';
      seen.set(key, [...(seen.get(key) ?? []), id]);
    }
    for (const [key, ids] of strict ? order : new Map<string, string[]>()) {
      if (JSON.stringify(seen.get(key)) !== JSON.stringify(ids)) {
        throw new Error(`key ${key} arrived as ${JSON.stringify(seen.get(key))}, accepted as ${JSON.stringify(ids)}`);
      }
    }
    const last = Math.max(...arrivals.map((r) => r.at));
    const latencies = arrivals
      .map((r) => r.at - (acceptedAt.get(r.headers['webhook-id'] ?? '') ?? r.at))
      .sort((a, b) => a - b);

    const dynamo = [...h.meter.dynamo.values()];
    const writes = dynamo.reduce(
      (n, d) => n + d.tableWriteUnits + Object.values(d.indexWriteUnits).reduce((a, b) => a + b, 0),
      0,
    );
    const reads = dynamo.reduce((n, d) => n + d.readUnits, 0);
    const sqsRequests = [...h.meter.sqs.values()].reduce((n, c) => n + c.billedRequests, 0);
    const invocations = (Object.keys(h.meter.lambda) as FunctionName[]).reduce(
      (n, f) => n + h.meter.lambda[f].invocations,
      0,
    );
    const perDelivery = (x: number) => x / events;
    const storageAndQueues = (sqsPrice: number) =>
      1e6 *
      (perDelivery(writes) * PRICES.dynamoWriteRequestUnit.usd +
        perDelivery(reads) * PRICES.dynamoReadRequestUnit.usd +
        perDelivery(sqsRequests) * sqsPrice);
    return {
      keys: s.keys,
      events,
      deliveriesPerSecond: Math.round((events / ((last - start) / 1000)) * 10) / 10,
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: latencies.at(-1) ?? 0 },
      writeUnitsPerDelivery: Math.round(perDelivery(writes) * 100) / 100,
      readUnitsPerDelivery: Math.round(perDelivery(reads) * 100) / 100,
      sqsRequestsPerDelivery: Math.round(perDelivery(sqsRequests) * 100) / 100,
      lambdaInvocationsPerDelivery: Math.round(perDelivery(invocations) * 100) / 100,
      storageAndQueuesPerMillion: Math.round(storageAndQueues(PRICES.sqsFifoRequest.usd) * 100) / 100,
      fifoPricePerMillionRequests: PRICES.sqsFifoRequest.usd * 1e6,
      inOrder: true,
      loadAverage: Math.round(loadavg()[0]! * 10) / 10,
    };
  }
}
