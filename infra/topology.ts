/**
 * The one source of truth for hookrelay's runtime topology: tables, queues, retry tiers, batch
 * sizes and schedules. The CDK stack (infra/constructs) and the embedded local stack
 * (infra/local) both read this module, so what runs on a laptop is what deploys.
 *
 * Nothing here imports aws-cdk-lib or the AWS SDK: it is plain data, safe to load in a Lambda.
 */

/** SQS caps a message's DelaySeconds at 15 minutes; longer waits are carried in hops. */
export const MAX_SQS_DELAY_S = 900;

export const topology = {
  table: {
    /** Physical name locally; on AWS the stack lets CloudFormation name it and passes it in. */
    name: 'hookrelay',
    partitionKey: 'pk',
    sortKey: 'sk',
    /** Epoch seconds after which DynamoDB TTL may delete an item (events, attempts). */
    ttlAttribute: 'expiresAt',
    /**
     * Both indexes project keys only: an index entry then costs one write unit whatever the
     * item's size, and updates to other attributes (a delivery's status, an event's fan-out flag)
     * do not rewrite it. Readers fetch the items they find with one BatchGetItem.
     */
    indexes: {
      /** Catch-up feed (an app's events, oldest first) and an endpoint's failed deliveries. */
      feed: { name: 'feed', partitionKey: 'feedPk', sortKey: 'feedSk', projection: 'KEYS_ONLY' },
      /** Sparse index of work that is not finished yet, by due time, swept by housekeeping. */
      open: { name: 'open', partitionKey: 'openPk', sortKey: 'openSk', projection: 'KEYS_ONLY' },
    },
    /**
     * Shards of the open-deliveries index, so that its writes spread over partitions: each takes
     * ~1,000 writes/s and a delivery writes its entry twice, so 32 shards carry ~16,000
     * deliveries/s (docs/performance.md). Housekeeping reads every shard once a run.
     */
    openShards: 32,
  },
  queues: {
    /** First attempts of every delivery. */
    work: { name: 'hookrelay-deliveries', visibilityTimeoutS: 180, maxReceiveCount: 5, retentionDays: 4 },
    /** Retries, each sent with its own DelaySeconds (up to MAX_SQS_DELAY_S, longer waits hop). */
    retry: { name: 'hookrelay-retries', visibilityTimeoutS: 180, maxReceiveCount: 5, retentionDays: 4 },
    /** Exhausted deliveries and poison messages. Kept long enough to inspect and redrive. */
    dlq: { name: 'hookrelay-dlq', retentionDays: 14 },
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
    defaultRateS: 60,
    /** Deliveries due within this horizon are enqueued by a sweep (with the remaining delay). */
    lookaheadS: 900,
  },
  retention: {
    /** Events, deliveries and attempts expire by TTL after this many days. */
    days: 30,
  },
  /** CloudWatch metrics the functions emit (Powertools, embedded metric format). */
  metrics: {
    namespace: 'hookrelay',
    names: {
      eventsAccepted: 'EventsAccepted',
      deliveriesSucceeded: 'DeliveriesSucceeded',
      attemptsFailed: 'AttemptsFailed',
      deliveriesRetried: 'DeliveriesRetried',
      deliveriesFailed: 'DeliveriesFailed',
      deliveriesSkipped: 'DeliveriesSkipped',
      deliveryLatencyMs: 'DeliveryLatencyMs',
      housekeepingRequeued: 'HousekeepingRequeued',
      housekeepingStuck: 'HousekeepingStuck',
      ingestsDeadLettered: 'IngestsDeadLettered',
    },
  },
  /** Seconds before each retry; HOOKRELAY_RETRY_SCHEDULE overrides it. */
  defaultRetryScheduleS: [5, 300, 1800, 7200, 18000, 36000, 36000],
  /** Fraction of each delay added or removed at random, so retries of a burst do not stampede. */
  retryJitter: 0.1,
} as const;

export type Topology = typeof topology;

/**
 * Environment variable names the stack and the local runtime set on every function.
 * The user-facing ones (HOOKRELAY_*) are the contract's; the wiring ones name resources.
 */
export const ENV = {
  tableName: 'HOOKRELAY_TABLE_NAME',
  workQueueUrl: 'HOOKRELAY_WORK_QUEUE_URL',
  retryQueueUrl: 'HOOKRELAY_RETRY_QUEUE_URL',
  dlqUrl: 'HOOKRELAY_DLQ_URL',
  ingestQueueUrl: 'HOOKRELAY_INGEST_QUEUE_URL',
  ingestDlqUrl: 'HOOKRELAY_INGEST_DLQ_URL',
  /** "firstDelayS,maxDelayS,attempts", set by the stack from topology.ingest.retry (tests shorten it). */
  ingestRetry: 'HOOKRELAY_INGEST_RETRY',
  apiKey: 'HOOKRELAY_API_KEY',
  apiKeySecretArn: 'HOOKRELAY_API_KEY_SECRET_ARN',
  retrySchedule: 'HOOKRELAY_RETRY_SCHEDULE',
  deliveryTimeoutMs: 'HOOKRELAY_DELIVERY_TIMEOUT_MS',
  allowPrivateTargets: 'HOOKRELAY_ALLOW_PRIVATE_TARGETS',
  housekeepingRateS: 'HOOKRELAY_HOUSEKEEPING_RATE_S',
  retentionDays: 'HOOKRELAY_RETENTION_DAYS',
  disableAfterFailingS: 'HOOKRELAY_DISABLE_AFTER_FAILING_S',
  dataDir: 'HOOKRELAY_DATA_DIR',
  port: 'PORT',
} as const;
