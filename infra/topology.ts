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
import { TABLE_LAYOUT } from '../functions/shared/table-layout';
import { METRIC_NAMES, METRICS_NAMESPACE } from '../functions/shared/metric-names';

export { ENV };

/**
 * The tag the stack puts on each function naming its role (api, delivery, ingest, housekeeping):
 * the local runtime finds each function's handler by it, and IAM acknowledgements name it.
 */
export const FUNCTION_TAG = 'hookrelay:function';

export const topology = {
  table: {
    /** Physical name locally; on AWS the stack lets CloudFormation name it and passes it in. */
    name: 'hookrelay',
    ...TABLE_LAYOUT,
  },
  queues: {
    /**
     * First attempts of every delivery: the work queue is shard 0 of `delivery.workShards`, and
     * the other shards are made like it (named `<name>-<shard>` locally).
     */
    work: { name: 'hookrelay-deliveries', visibilityTimeoutS: 180, maxReceiveCount: 5, retentionDays: 4 },
    /** Retries, each sent with its own DelaySeconds (up to SQS's 15 minutes, longer waits hop). */
    retry: { name: 'hookrelay-retries', visibilityTimeoutS: 180, maxReceiveCount: 5, retentionDays: 4 },
    /**
     * The isolation lane (docs/flow-control.md): attempts of endpoints that are throttled, paused,
     * rate-limited or slow, so that they never hold the shared lanes' batches. Deferred
     * deliveries wait here with their own DelaySeconds.
     */
    isolated: { name: 'hookrelay-isolated', visibilityTimeoutS: 180, maxReceiveCount: 5, retentionDays: 4 },
    /** Exhausted deliveries and poison messages. Kept long enough to inspect and redrive. */
    dlq: { name: 'hookrelay-dlq', retentionDays: 14 },
    /**
     * The ordered lane (docs/ordering.md): strict endpoints' deliveries, one message group per
     * (endpoint, ordering key). A key's head waits for its retry by holding its message (a
     * visibility change), so it is received once per attempt, plus once per 12 hours of a longer
     * wait: maxReceiveCount is SQS's most, a backstop for a message nothing can handle. Kept
     * 14 days (SQS's most), past the retry schedule.
     */
    ordered: { name: 'hookrelay-ordered.fifo', visibilityTimeoutS: 180, maxReceiveCount: 1000, retentionDays: 14 },
    /** Where the ordered lane's backstop moves a message (SQS wants a FIFO queue's DLQ FIFO too). */
    orderedDlq: { name: 'hookrelay-ordered-dlq.fifo', retentionDays: 14 },
    /**
     * Events from the bus, as EventBridge puts them (the rule's target), drained by the ingest
     * function. Kept longer than the whole ingest retry horizon (topology.ingest.retry). Its
     * redrive policy is a backstop for a function that crashes or times out on a message:
     * ordinary failures are dead-lettered by the function itself, with their reason, on
     * receive `retry.attempts`, before the policy's `maxReceiveCount`.
     */
    ingest: {
      name: 'hookrelay-ingest',
      visibilityTimeoutS: 180,
      maxReceiveCount: 32,
      retentionDays: 4,
      /** SQS's limit, so that any event EventBridge accepts (an entry of up to 1 MiB) fits. */
      maxMessageBytes: 1024 * 1024,
    },
    /**
     * Events that could not be ingested: refused (validation, unknown app, oversized: at once,
     * with their reason), out of retries, or undeliverable to the ingest queue by EventBridge.
     */
    ingestDlq: { name: 'hookrelay-ingest-dlq', retentionDays: 14, maxMessageBytes: 1024 * 1024 },
  },
  delivery: {
    /** Messages per delivery Lambda invocation; each is sent concurrently within the batch. */
    batchSize: 10,
    maxBatchingWindowS: 0,
    /** Cap on concurrent delivery invocations per queue (SQS event source maximumConcurrency). */
    maxConcurrency: 50,
    /**
     * Shards of the work queue, each with its own event source and `maxConcurrency` slots; an
     * app's first attempts all go to one (functions/delivery/work-shards.ts). A hanging endpoint's
     * first wave holds only its shard's slots: the apps of the other shards (7 in 8) are not
     * delayed, and one app still has the 50 slots the whole work queue had before.
     */
    workShards: 8,
    /** Lambda timeout; the queues' visibility timeout is six times it, as AWS advises. */
    functionTimeoutS: 30,
    /** Bytes of the receiver's response body kept with an attempt. */
    responseExcerptBytes: 1024,
    /** A delivery claimed by a worker is considered stuck after this long without a result. */
    leaseS: 300,
    /**
     * The isolation lane's event source maximumConcurrency (2 is Lambda's least). A rate is
     * shared out by it: each container sends at most perSecond / isolatedConcurrency, since
     * Lambda runs one batch per container and at most this many at once.
     */
    isolatedConcurrency: 2,
    /**
     * The ordered lane's (strict endpoints') event source maximumConcurrency. A strict endpoint's
     * rate is shared out by it as the isolation lane's is (perSecond / orderedConcurrency per
     * container); its keys run in parallel up to this many batches of 10.
     */
    orderedConcurrency: 10,
    /**
     * How long an attempt may take on the shared lanes (work, retry) before it is cut and moved
     * to the isolation lane, not counted: a shared batch never lasts longer than this.
     */
    sharedLaneBudgetMs: 1000,
    /** An endpoint that has failed every attempt for this long is disabled (Svix's default: 5 days). */
    disableAfterFailingS: 5 * 86_400,
  },
  ingest: {
    /** Events in one POST /events/batch. */
    maxBatchEvents: 100,
    /** Records of the ingest queue per ingest invocation. */
    batchSize: 10,
    /** Cap on concurrent ingest invocations (the event source's maximumConcurrency). */
    maxConcurrency: 20,
    /** Lambda timeout of the ingest function; the ingest queue's visibility timeout is 6x it. */
    functionTimeoutS: 30,
    /**
     * Transient failures (the table throttled or unreachable, anything not a refusal) are
     * retried by hiding the message again for a growing delay: firstDelayS, doubled at each
     * receive, at most maxDelayS. On receive `attempts` the function dead-letters it instead,
     * with the last error: about 23 hours after it arrived (docs/operations.md).
     */
    retry: { firstDelayS: 30, maxDelayS: 3600, attempts: 30 },
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
    [ENV.isolatedConcurrency]: String(topology.delivery.isolatedConcurrency),
    [ENV.orderedConcurrency]: String(topology.delivery.orderedConcurrency),
    [ENV.sharedLaneBudgetMs]: String(topology.delivery.sharedLaneBudgetMs),
    [ENV.ingestRetry]: `${topology.ingest.retry.firstDelayS},${topology.ingest.retry.maxDelayS},${topology.ingest.retry.attempts}`,
  };
}
