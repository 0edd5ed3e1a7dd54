/**
 * Design changes that would lower the cost per delivery, each priced from the counts of a measured
 * scenario: a change rewrites the counted quantities the way the changed design would make them
 * (e.g. an index that projects keys only takes one unit per index write instead of the item's
 * size), and the scenario is priced again. Changes are applied one after the other, in the order
 * listed, so each saving is measured against the design with the previous changes in it, and the
 * savings add up to the difference between the first and the last total.
 *
 * These are paper changes: none is implemented here, and the counts they start from are those of
 * the design as it is.
 */
import type { FunctionName } from '../infra/local/lambda';
import { priceScenario, type ScenarioResult } from './cost';
import { topology } from '../infra/topology';
import type { DynamoCounts } from './instrument';

const OPEN = topology.table.indexes.open.name;

export interface DesignChange {
  id: string;
  title: string;
  /** What it removes, and what it costs in return. */
  detail: string;
  apply(r: ScenarioResult, ctx: ChangeContext): void;
}

export interface ChangeContext {
  /** Delivery compute per record when invocations carry full batches (measured: fan-out run). */
  deliveryGbSecondsPerRecordFullBatch?: number;
}

export interface ChangeStep {
  id: string;
  title: string;
  savingPerMillion: number;
  totalAfter: number;
}

const total = (r: ScenarioResult) => priceScenario(r).reduce((n, l) => n + l.usdPerMillion, 0);
const rows = (r: ScenarioResult, label: string | RegExp) =>
  r.dynamo.filter((d) => (typeof label === 'string' ? d.label === label : label.test(d.label)));

function setIndexWrites(
  d: DynamoCounts,
  index: string,
  units: number,
  kinds: Partial<DynamoCounts['indexWriteKinds'][string]>,
): void {
  d.indexWriteUnits[index] = units;
  Object.assign(d.indexWriteKinds[index] ?? {}, kinds);
}

export const DESIGN_CHANGES: DesignChange[] = [
  {
    id: 'function-url',
    title: 'Producers POST to a Lambda function URL instead of the API Gateway HTTP API',
    detail:
      "Removes the per-request API Gateway charge and its access-log line. The api function already authenticates and routes every request itself; what API Gateway adds is stage throttling and access logs, which would move to reserved concurrency and the function's own log.",
    apply(r) {
      r.api.billedRequests = 0;
      r.logs.accessLogBytesPerRequest = 0;
    },
  },
  {
    id: 'keys-only-indexes',
    title: 'Both indexes project keys only (KEYS_ONLY) instead of ALL',
    detail:
      "An index entry becomes ~150 bytes: one write unit per index write instead of the item's size, and an update that changes no index key writes no index at all (with ALL, every update of a listed item rewrites its copy). The feed and housekeeping then read the items they list with a BatchGetItem (reads, off the delivery path). Also shrinks index storage.",
    apply(r) {
      for (const d of r.dynamo) {
        for (const [index, k] of Object.entries(d.indexWriteKinds)) {
          setIndexWrites(d, index, k.put + k.delete + 2 * k.move, { update: 0 });
        }
      }
      for (const s of Object.values(r.storage)) s.index = s.indexKeysOnly;
    },
  },
  {
    id: 'atomic-fan-out',
    title:
      'No open-index entry for the event and no "mark fanned out" update (event and deliveries in one TransactWriteItems)',
    detail:
      'The event no longer needs an open-index entry to survive a crash between its put and its deliveries\' (they are one write), so the event\'s open-index put and the "mark fanned out" update (table, feed and open index) go. Transactional writes cost two units per KB, so the event and delivery puts double. Needs DynamoDB transactions, which dynalite lacks: the local stack would move to DynamoDB Local.',
    apply(r) {
      // Only for a design that still marks the fan-out (the event is on the open index until then).
      if (rows(r, 'update event: mark fanned out').length === 0) return;
      r.dynamo = r.dynamo.filter((d) => d.label !== 'update event: mark fanned out');
      for (const d of rows(r, 'put event')) {
        d.tableWriteUnits *= 2;
        setIndexWrites(d, OPEN, 0, { put: 0 });
      }
      for (const d of rows(r, 'batch put delivery')) d.tableWriteUnits *= 2;
    },
  },
  {
    id: 'claim-in-place',
    title: 'Claim a delivery without moving its open-index entry',
    detail:
      'A claim (lease) that moves the delivery to a new position on the open index costs a delete and a put there. The entry written at enqueue (due: enqueue time + lease) already bounds the attempt; a claim that keeps it saves both index writes. A delivery claimed late is then looked at by housekeeping while it runs, which the lease already makes harmless (the re-driven message finds the lease and stops).',
    apply(r) {
      for (const d of rows(r, 'update delivery: claim (lease)')) {
        for (const index of Object.keys(d.indexWriteUnits))
          setIndexWrites(d, index, 0, { put: 0, delete: 0, move: 0, update: 0 });
      }
    },
  },
  {
    id: 'fold-first-attempt',
    title: 'Record a first-try success in the delivery item, without an attempt item',
    detail:
      'The finish update already writes the status code and time; with the duration too, the attempts list can show attempt 1 from the delivery item. Saves the attempt put (and its storage) for every delivery that succeeds at once; failed attempts keep their items.',
    apply(r) {
      const puts = rows(r, 'put attempt');
      const attempts = puts.reduce((n, d) => n + d.items, 0);
      const keep = attempts === 0 ? 1 : 1 - Math.min(1, r.firstTrySuccesses / attempts);
      for (const d of puts) {
        d.tableWriteUnits *= keep;
        d.items *= keep;
        d.calls *= keep;
      }
      const stored = r.storage.attempt;
      if (stored) {
        stored.table *= keep;
        stored.index *= keep;
        stored.indexKeysOnly *= keep;
      }
    },
  },
  {
    id: 'no-first-lease',
    title: 'No lease write before a first attempt',
    detail:
      'The lease exists so that a duplicate SQS message never makes a second HTTP call. SQS standard queues duplicate rarely, Standard Webhooks receivers dedupe on webhook-id anyway, and the result write stays conditional on the attempt count (so the record stays right). Dropping the lease on first attempts saves one table write per delivery; retries keep it. The price is an occasional duplicate POST.',
    apply(r) {
      const claims = rows(r, 'update delivery: claim (lease)');
      const total = claims.reduce((n, d) => n + d.calls, 0);
      if (total === 0) return;
      // Every delivery has one first attempt; the other claims are retries.
      const keep = Math.max(0, 1 - r.deliveries / total);
      for (const d of claims) {
        d.calls *= keep;
        d.items *= keep;
        d.tableWriteUnits *= keep;
        for (const index of Object.keys(d.indexWriteUnits))
          d.indexWriteUnits[index] = (d.indexWriteUnits[index] ?? 0) * keep;
      }
    },
  },
  {
    id: 'queue-holds-first-attempt',
    title: 'The queue message is the only record of a first attempt until it has a result',
    detail:
      'A delivery item is written at ingest (with its open-index entry) only so that housekeeping can find a first attempt whose message was lost; SQS keeps an acknowledged message until it is deleted or dead-lettered, so the item can be written once, with its result. Saves the delivery put and its open-index put and delete for every first-try success. The price: a replayed request cannot tell which first attempts were already enqueued (it enqueues them all; the conditional result write and webhook-id dedupe the extra ones), and the polling view shows "pending" for an event with no delivery item yet.',
    apply(r) {
      const f = r.deliveries === 0 ? 0 : Math.min(1, r.firstTrySuccesses / r.deliveries);
      if (f === 0) return;
      const scale = (d: DynamoCounts, k: number, indexesOnly = false) => {
        if (!indexesOnly) {
          d.tableWriteUnits *= k;
          d.calls *= k;
          d.items *= k;
        }
        for (const index of Object.keys(d.indexWriteUnits))
          d.indexWriteUnits[index] = (d.indexWriteUnits[index] ?? 0) * k;
      };
      for (const d of rows(r, 'batch put delivery')) scale(d, 1 - f);
      // The result write stays (as a put of the finished item); it no longer removes an index entry.
      for (const d of rows(r, 'update delivery: finish (result)')) scale(d, 1 - f, true);
    },
  },
  {
    id: 'eventual-context-reads',
    title: "Read an attempt's context (event, delivery, endpoint) eventually consistent",
    detail:
      "Half the read units of the BatchGetItem each attempt makes. A stale read cannot cause a second HTTP call: the claim is a conditional write on the delivery's attempt count and lease.",
    apply(r) {
      for (const d of rows(r, /^batch get/)) d.readUnits /= 2;
    },
  },
  {
    id: 'batch-queue-sends',
    title: 'A batch POST sends its messages ten at a time',
    detail:
      'Each event of a batch is ingested on its own today, so a POST of 100 events makes 100 SendMessageBatch calls of one message; grouping them makes 10.',
    apply(r) {
      for (const s of r.sqs) {
        if (s.origin !== 'api' || s.action !== 'SendMessageBatch' || r.api.requests === 0) continue;
        const perPost = Math.ceil(s.messages / r.api.requests / 10);
        s.billedRequests = Math.min(s.billedRequests, perPost * r.api.requests);
      }
    },
  },
  {
    id: 'fill-delivery-batches',
    title: 'A batching window on the delivery event sources, so invocations carry 10 messages',
    detail:
      'With MaximumBatchingWindowInSeconds at 0, a message that arrives alone is an invocation, a ReceiveMessage and a DeleteMessageBatch of its own. A window of a second or two fills batches of 10 at moderate traffic (at high traffic they fill anyway), for up to that much added latency. Compute per record is taken from the fan-out run, whose invocations carried full batches.',
    apply(r, ctx) {
      const f = r.functions.delivery;
      if (f.records === 0) return;
      const full = Math.ceil(f.records / 10);
      if (full >= f.invocations) return;
      const ratio = full / f.invocations;
      const logs = r.logs.byOrigin.delivery;
      if (logs) {
        for (const k of ['bytes', 'lines', 'metricBytes', 'metricLines'] as const) logs[k] *= ratio;
      }
      f.invocations = full;
      if (ctx.deliveryGbSecondsPerRecordFullBatch !== undefined) {
        f.billedGbSeconds = Math.min(f.billedGbSeconds, ctx.deliveryGbSecondsPerRecordFullBatch * f.records);
        f.billedGbSecondsAt2x = Math.min(
          f.billedGbSecondsAt2x,
          2 * ctx.deliveryGbSecondsPerRecordFullBatch * f.records,
        );
      }
      for (const s of r.sqs) {
        if (s.origin === 'event source') s.billedRequests = Math.min(s.billedRequests, full);
      }
    },
  },
  {
    id: 'quiet-platform-logs',
    title: 'Lambda system log level WARN (JSON log format), and no INFO line per routine event',
    detail:
      'With the JSON log format every invocation writes platform.start, platform.runtimeDone and platform.report at INFO; a system log level of WARN drops them (durations stay in CloudWatch metrics). The ingest function also logs one INFO line per event; at WARN only problems are logged. Metrics (EMF lines) stay.',
    apply(r) {
      r.logs.platformBytesPerInvocation = 0;
      for (const l of Object.values(r.logs.byOrigin)) {
        l.bytes = l.metricBytes;
        l.lines = l.metricLines;
      }
    },
  },
  {
    id: 'no-tracing',
    title: 'X-Ray: a sampling rule that records no routine deliveries (or tracing off)',
    detail:
      'Active tracing records 5 % of invocations at $5 per million traces. A sampling rule at 0 % for the api and delivery functions (errors are in the logs and metrics anyway) removes the line.',
    apply(r) {
      r.xraySampling = 0;
    },
  },
];

/** DynamoDB provisioned capacity for steady traffic; priced separately (it is an operating choice). */
export const PROVISIONED: DesignChange = {
  id: 'provisioned-capacity',
  title: 'DynamoDB provisioned capacity with auto scaling (70 % target utilization) instead of on demand',
  detail:
    'For steady, predictable traffic: a write capacity unit-hour is $0.00065, so a unit used 70 % of the time costs about 41 % of the on-demand price. Auto scaling lags sudden bursts; on-demand absorbs them.',
  apply(r) {
    r.dynamoCapacity = { mode: 'provisioned', utilization: 0.7 };
  },
};

/** Applies the changes in order; returns each step's saving and the changed scenario. */
export function applyChanges(
  base: ScenarioResult,
  changes: DesignChange[],
  ctx: ChangeContext,
): { steps: ChangeStep[]; result: ScenarioResult } {
  const r = structuredClone(base);
  const steps: ChangeStep[] = [];
  let before = total(r);
  for (const c of changes) {
    c.apply(r, ctx);
    const after = total(r);
    steps.push({ id: c.id, title: c.title, savingPerMillion: before - after, totalAfter: after });
    before = after;
  }
  r.lines = priceScenario(r);
  r.totalPerMillion = r.lines.reduce((n, l) => n + l.usdPerMillion, 0);
  r.totalPerMillionAt2xDuration = priceScenario(r, 2).reduce((n, l) => n + l.usdPerMillion, 0);
  return { steps, result: r };
}

/** Delivery compute per record from a run whose delivery invocations were (nearly) full batches. */
export function gbSecondsPerRecord(r: ScenarioResult, fn: FunctionName = 'delivery'): number | undefined {
  const f = r.functions[fn];
  if (f.records === 0 || f.records / f.invocations < 8) return undefined;
  return f.billedGbSeconds / f.records;
}
