/**
 * The one source of truth for hookrelay's deployment: queues, batch sizes, schedules and the
 * runtime tunables the stack hands every function through its environment
 * (`functionTunables`). The CDK stack (infra/constructs) reads it; the local runtime runs what
 * the stack synthesizes, so what runs on a laptop is what deploys.
 *
 * Dependencies run one way: infra reads functions/ (the variables' names and the contract's
 * defaults in functions/config.ts, the table layout, the metric names), never the reverse.
 */
import { CONTRACT_DEFAULTS, ENV } from '../functions/config';
import { TABLE_LAYOUT } from '../functions/adapters/dynamo/table-layout';
import { METRIC_NAMES, METRICS_NAMESPACE } from '../functions/metric-names';

export { ENV };

export const topology = {
  table: {
    /** Physical name locally; on AWS the stack lets CloudFormation name it and passes it in. */
    name: 'hookrelay',
    ...TABLE_LAYOUT,
  },
  queues: {
    /** First attempts of every delivery. */
    work: { name: 'hookrelay-deliveries', visibilityTimeoutS: 180, maxReceiveCount: 5, retentionDays: 4 },
    /** Retries, each sent with its own DelaySeconds (up to SQS's 15 minutes, longer waits hop). */
    retry: { name: 'hookrelay-retries', visibilityTimeoutS: 180, maxReceiveCount: 5, retentionDays: 4 },
    /** Exhausted deliveries and poison messages. Kept long enough to inspect and redrive. */
    dlq: { name: 'hookrelay-dlq', retentionDays: 14 },
  },
  delivery: {
    /** Messages per delivery Lambda invocation; each is sent concurrently within the batch. */
    batchSize: 10,
    maxBatchingWindowS: 0,
    /** Cap on concurrent delivery invocations per queue (SQS event source maximumConcurrency). */
    maxConcurrency: 50,
    /** Lambda timeout; the queues' visibility timeout is six times it, as AWS advises. */
    functionTimeoutS: 30,
    /** Bytes of the receiver's response body kept with an attempt. */
    responseExcerptBytes: 1024,
    /** A delivery claimed by a worker is considered stuck after this long without a result. */
    leaseS: 300,
    /** An endpoint that has failed every attempt for this long is disabled (Svix's default: 5 days). */
    disableAfterFailingS: 5 * 86_400,
  },
  ingest: {
    /** Events in one POST /events/batch. */
    maxBatchEvents: 100,
  },
  api: {
    /** After a rotation the previous secret keeps signing beside the new one this long. */
    secretRotationOverlapS: 86_400,
    /**
     * The catch-up feed lists events accepted at least this long ago, so that an event whose
     * write is still in flight (a clock a little behind, a slow write) is never skipped by a
     * cursor that has already moved past its timestamp.
     */
    feedSettleMs: 2000,
    /** Failed deliveries one recover call re-sends; the answer says when more remain. */
    recoverMaxPerCall: 2000,
  },
  housekeeping: {
    /** Default period; HOOKRELAY_HOUSEKEEPING_RATE_S overrides it (rounded up to minutes on AWS). */
    defaultRateS: CONTRACT_DEFAULTS.housekeepingRateS,
    /** Deliveries due within this horizon are enqueued by a sweep (with the remaining delay). */
    lookaheadS: 900,
  },
  retention: {
    /** Events, deliveries and attempts expire by TTL after this many days. */
    days: 30,
  },
  /** CloudWatch metrics the functions emit (Powertools, embedded metric format). */
  metrics: { namespace: METRICS_NAMESPACE, names: METRIC_NAMES },
  /** Seconds before each retry; HOOKRELAY_RETRY_SCHEDULE overrides it. */
  defaultRetryScheduleS: CONTRACT_DEFAULTS.retryScheduleS,
  /** Fraction of each delay added or removed at random, so retries of a burst do not stampede. */
  retryJitter: 0.1,
} as const;

export type Topology = typeof topology;

/**
 * The runtime tunables every function gets in its environment (functions/config.ts requires
 * each). The stack sets them; the local runtime gets them from the synthesized template.
 */
export function functionTunables(): Record<string, string> {
  return {
    [ENV.leaseS]: String(topology.delivery.leaseS),
    [ENV.responseExcerptBytes]: String(topology.delivery.responseExcerptBytes),
    [ENV.retryJitter]: String(topology.retryJitter),
    [ENV.secretRotationOverlapS]: String(topology.api.secretRotationOverlapS),
    [ENV.feedSettleMs]: String(topology.api.feedSettleMs),
    [ENV.recoverMaxPerCall]: String(topology.api.recoverMaxPerCall),
    [ENV.disableAfterFailingS]: String(topology.delivery.disableAfterFailingS),
  };
}
