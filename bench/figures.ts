/**
 * The headline figures of a run, each beside its goal and the design's floor (what it would be
 * with only the unavoidable requests), as `docs/performance.json` carries them and the summary
 * of docs/performance.md shows them.
 *
 * The floor of this design: one durable write per accepted event and one per delivery outcome
 * (each item under 1 KB: one write unit), and one read per ingest request (the app and its
 * endpoints, strongly consistent, so that an endpoint created a moment ago gets the next event).
 * Everything else a scenario pays for (API Gateway, Lambda, SQS, storage, logs, transfer) is
 * counted as measured in the floor too: the floor only removes DynamoDB requests above it.
 */
import type { ScenarioId, ScenarioResult } from './cost';
import type { KeyScenario } from './capacity-keys';
import { applyChanges, PROVISIONED } from './design-changes';
import { PRICES } from './prices';
import type { BenchResults } from './results';

export const GOALS = {
  singlePostPerMillion: 5,
  batchPostPerMillion: 2.5,
  oneRetryPerMillion: 8,
  writeUnitsPerDelivery: 2.5,
  readUnitsPerDelivery: 1,
  ratioToBare: 0.5,
} as const;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export function unitsPerDelivery(s: ScenarioResult) {
  const writes = sum(s.dynamo.map((d) => d.tableWriteUnits + sum(Object.values(d.indexWriteUnits))));
  const reads = sum(s.dynamo.map((d) => d.readUnits));
  return { writes: writes / s.deliveries, reads: reads / s.deliveries };
}

/** The design's floor of write and read units per delivery, for a scenario. */
export function floorUnits(s: ScenarioResult) {
  // One write per event and one per outcome: a retried delivery has two outcomes (retrying, then
  // succeeded; the failed attempt's details can travel in the first).
  const outcomes = s.deliveries * (s.id === 'retry' ? 2 : 1);
  const ingestRequests = s.api.requests + s.functions.ingest.invocations;
  return { writes: (s.events + outcomes) / s.deliveries, reads: ingestRequests / s.deliveries };
}

/** The scenario's total with its DynamoDB requests at the floor. */
export function floorPerMillion(s: ScenarioResult): number {
  const measured = unitsPerDelivery(s);
  const floor = floorUnits(s);
  const price = (w: number, r: number) =>
    (w * PRICES.dynamoWriteRequestUnit.usd + r * PRICES.dynamoReadRequestUnit.usd) * 1e6;
  return s.totalPerMillion - price(measured.writes, measured.reads) + price(floor.writes, floor.reads);
}

const COST_KEYS: Record<ScenarioId, string> = {
  single: 'singlePost',
  singleIds: 'singlePostOwnIds',
  batch: 'batchPost',
  putevents: 'putEvents',
  fanout: 'fanOut10',
  retry: 'oneRetry',
};

const GOAL_OF: Partial<Record<ScenarioId, number>> = {
  single: GOALS.singlePostPerMillion,
  batch: GOALS.batchPostPerMillion,
  retry: GOALS.oneRetryPerMillion,
};

/** docs/performance.json: the figures the issue names, each with its floor, goal and commit. */
export function figuresJson(res: BenchResults): Record<string, unknown> {
  const commit = res.meta.commit;
  const out: Record<string, unknown> = { date: res.meta.date, mode: res.meta.mode, commit };
  const scenarios = res.cost?.scenarios ?? [];
  if (scenarios.length > 0) {
    const cost: Record<string, unknown> = {};
    for (const s of scenarios) {
      const entry: Record<string, unknown> = {
        perMillion: round(s.totalPerMillion),
        floorPerMillion: round(floorPerMillion(s)),
        commit,
      };
      if (GOAL_OF[s.id] !== undefined) entry.goalPerMillion = GOAL_OF[s.id];
      if (s.id === 'batch') {
        entry.provisionedPerMillion = round(applyChanges(s, [PROVISIONED], {}).result.totalPerMillion);
      }
      cost[COST_KEYS[s.id]] = entry;
    }
    out.cost = cost;
    const single = scenarios.find((s) => s.id === 'single');
    if (single) {
      const u = unitsPerDelivery(single);
      const f = floorUnits(single);
      out.writeUnitsPerDelivery = round(u.writes);
      out.readUnitsPerDelivery = round(u.reads);
      out.units = {
        scenario: 'single POSTs, one endpoint, first-try success; table and indexes together',
        writeFloor: round(f.writes),
        readFloor: round(f.reads),
        writeGoal: GOALS.writeUnitsPerDelivery,
        readGoal: GOALS.readUnitsPerDelivery,
        commit,
      };
    }
  }
  if (res.latency) {
    const l = res.latency;
    out.latencyMs = { p50: round(l.p50Ms), p95: round(l.p95Ms), p99: round(l.p99Ms), commit };
  }
  if (res.isolation) {
    const r = res.isolation;
    out.isolation = {
      alone: { p50Ms: round(r.alone.p50Ms), p95Ms: round(r.alone.p95Ms) },
      beside: Object.fromEntries(
        r.beside.map((b) => [
          b.sameShard ? `${b.kind}SameShard` : b.kind,
          {
            sameShard: b.sameShard,
            p50Ms: round(b.healthy.p50Ms),
            p95Ms: round(b.healthy.p95Ms),
            p95Ratio: round(b.p95Ratio),
            neighbour: {
              events: b.neighbour.events,
              delivered: b.neighbour.delivered,
              waiting: b.neighbour.waiting,
              failed: b.neighbour.failed,
              requests: b.neighbour.requests,
              share429: round(b.neighbour.share429),
            },
          },
        ]),
      ),
      goalP95Ratio: 2,
      aws: r.aws,
      commit,
    };
  }
  if (res.throughput) {
    const t = res.throughput;
    out.throughput = {
      deliveriesPerSecond: round(t.hookrelay.deliveredPerSecond),
      bareDeliveriesPerSecond: round(t.baseline.deliveredPerSecond),
      ratioToBare: round(t.ratio),
      goalRatio: GOALS.ratioToBare,
      floorRatio: 1,
      batchSize: t.settings.batchSize,
      commit,
    };
  }
  if (res.ordering) {
    const o = res.ordering;
    out.ordering = {
      scenario: `one strict endpoint, ${o.keys} ordering keys, each key's events sent one after the other; every key checked in order`,
      deliveriesPerSecond: o.deliveriesPerSecond,
      perKeyLatencyMs: o.latencyMs,
      writeUnitsPerDelivery: o.writeUnitsPerDelivery,
      readUnitsPerDelivery: o.readUnitsPerDelivery,
      sqsFifoRequestsPerDelivery: o.sqsRequestsPerDelivery,
      dynamoAndSqsPerMillion: o.storageAndQueuesPerMillion,
      sqsFifoPricePerMillionRequests: o.fifoPricePerMillionRequests,
      sqsStandardPricePerMillionRequests: 0.4,
      unorderedSameRun: o.unordered,
      loadAverage: o.loadAverage,
      commit,
    };
  }
  if (res.keyCapacity) {
    const k = res.keyCapacity;
    const scenario = (s: KeyScenario) => ({
      eventsPerSecond: s.eventsPerSecond,
      busiestKeyWcuPerSecond: round(s.busiestWrite.wcuPerSecond),
      busiestWriteKey: s.busiestWrite.key,
      busiestKeyRcuPerSecond: round(s.busiestRead.rcuPerSecond),
      busiestReadKey: s.busiestRead.key,
      ...(s.busiestEndpointWrite
        ? {
            busiestEndpointKeyWcuPerSecond: round(s.busiestEndpointWrite.wcuPerSecond),
            busiestEndpointKey: s.busiestEndpointWrite.key,
          }
        : {}),
      partitionWcuLimit: k.limits.partitionWcu,
      partitionRcuLimit: k.limits.partitionRcu,
      eventsMeasured: s.eventsMeasured,
      commit,
    });
    const of = (id: KeyScenario['id']) => k.scenarios.find((s) => s.id === id);
    const one = of('oneApp');
    const chosen = of('oneAppChosenIds');
    const zipf = of('zipf');
    out.capacity = {
      ...(one ? { oneApp: scenario(one) } : {}),
      ...(chosen ? { oneAppChosenIds: scenario(chosen) } : {}),
      ...(zipf ? { zipf1000Apps: scenario(zipf) } : {}),
      housekeeping: {
        millionApps: {
          registeredApps: k.housekeeping.millionApps.registeredApps,
          activeApps: k.housekeeping.millionApps.activeApps,
          readUnitsPerRun: round(k.housekeeping.millionApps.readUnits),
          callsPerRun: k.housekeeping.millionApps.calls,
          secondsPerRun: round(k.housekeeping.millionApps.secondsOnDynamoDb),
          secondsPerRunOnEmulator: round(k.housekeeping.millionApps.secondsOnEmulator),
          measured: k.housekeeping.measured,
          commit,
        },
      },
    };
  }
  return out;
}

const round = (n: number) => Math.round(n * 1000) / 1000;
