import { Fn, RemovalPolicy } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ENV, functionTunables, topology } from '../topology';
import { CONTRACT_DEFAULTS, parsePortalRateLimit } from '../../functions/config';
import { DeliveryAlarms } from './alarms';
import { WebhookApi, type ApiShape, type ApiThrottle } from './api';
import { defaultHandlerEntry, REPO_ROOT, type HandlerName } from './bundling';
import { DeliveryDashboard } from './dashboard';
import { DeliveryWorker } from './delivery-worker';
import { IngestBus } from './event-bus';
import { Housekeeping, housekeepingRateMinutes } from './housekeeping';
import { OrderedLane } from './ordered-lane';
import { DeliveryQueues } from './queues';
import { WebhookStore } from './store';

export interface WebhookDeliveryProps {
  /**
   * Seconds to wait before each retry (HOOKRELAY_RETRY_SCHEDULE): up to 20 whole numbers, each
   * 0 to 604800.
   * @default topology.defaultRetryScheduleS (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h)
   */
  readonly retryScheduleS?: readonly number[];
  /**
   * Per-attempt HTTP timeout (HOOKRELAY_DELIVERY_TIMEOUT_MS). At most the delivery function's
   * timeout less 5 s, so that an attempt always finishes and is recorded before Lambda stops.
   * @default 10000
   */
  readonly deliveryTimeoutMs?: number;
  /**
   * Allow destinations on private, loopback, link-local and metadata addresses
   * (HOOKRELAY_ALLOW_PRIVATE_TARGETS). Leave off on AWS: on, anyone with an app key could make
   * the delivery function call into your network or the instance metadata service.
   * @default false
   */
  readonly allowPrivateTargets?: boolean;
  /**
   * How often housekeeping runs, in seconds (HOOKRELAY_HOUSEKEEPING_RATE_S). EventBridge
   * schedules run at whole minutes: rounded up, at least one minute; the functions get the
   * rounded value.
   * @default topology.housekeeping.defaultRateS (60)
   */
  readonly housekeepingRateS?: number;
  /**
   * Days that events, deliveries and attempts are kept before DynamoDB TTL deletes them
   * (HOOKRELAY_RETENTION_DAYS), 1 to 3650.
   * @default topology.retention.days (30)
   */
  readonly retentionDays?: number;
  /** Every alarm notifies this topic when it fires and when it clears. @default no notifications */
  readonly alarmTopic?: sns.ITopic;
  /**
   * What deleting the stack does to the table and the log groups. Queues and the admin key
   * secret are always deleted with the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Concurrent delivery invocations per queue (work and retry each): the SQS event sources'
   * maximum concurrency, 2 to 1000. Caps the load hookrelay puts on receivers and on the account.
   * @default topology.delivery.maxConcurrency (50)
   */
  readonly maxConcurrency?: number;
  /**
   * The API Gateway in front of the api function: an HTTP API, or a REST API for LocalStack's
   * free image, which implements no HTTP APIs (`-c hookrelay:api=rest`). @default 'http'
   */
  readonly apiShape?: ApiShape;
  /**
   * Whether to create the CloudWatch dashboard ($3 a month; LocalStack's free image implements
   * none: `-c hookrelay:dashboard=false`). The alarms stay either way. @default true
   */
  readonly dashboard?: boolean;
  /** API stage throttling. @default 100 requests/s, bursts of 200 */
  readonly apiThrottle?: ApiThrottle;
  /** Retention of the functions' and the API's log groups. @default one month */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The customer managed KMS key the table (and so every signing secret) is encrypted with.
   * @default a new customer managed key with yearly rotation, retained like the table
   */
  readonly tableEncryptionKey?: kms.IKey;
  /**
   * Source files of the handlers, for a fork that builds its own. Each must export `handler`.
   * @default functions/handlers/<name>.ts in this repository
   */
  readonly handlerEntries?: Partial<Record<HandlerName, string>>;
  /**
   * The consumer portal (docs/portal.md): who may frame it (HOOKRELAY_PORTAL_FRAME_ANCESTORS,
   * CSP frame-ancestors sources; default 'none') and the origin its links point to
   * (HOOKRELAY_PORTAL_URL; default the API's own), and each link's rate limit, a burst then so
   * many calls a second (HOOKRELAY_PORTAL_RATE_LIMIT; default 120 then 20 a second).
   */
  readonly portal?: {
    readonly frameAncestors?: string;
    readonly url?: string;
    readonly rateLimit?: { readonly capacity: number; readonly refillPerS: number };
  };
}

/** Checked props with every default applied. */
export interface ResolvedWebhookDeliveryProps {
  readonly retryScheduleS: readonly number[];
  readonly deliveryTimeoutMs: number;
  readonly allowPrivateTargets: boolean;
  readonly housekeepingRateMinutes: number;
  readonly retentionDays: number;
  readonly removalPolicy: RemovalPolicy;
  readonly maxConcurrency: number;
  readonly apiThrottle: ApiThrottle;
  readonly apiShape: ApiShape;
  readonly dashboard: boolean;
  readonly logRetention: logs.RetentionDays;
}

const DELIVERY_TIMEOUT_MARGIN_MS = 5_000;

/** Applies the defaults and rejects, in one error naming each, every prop out of range. */
export function resolveWebhookDeliveryProps(props: WebhookDeliveryProps = {}): ResolvedWebhookDeliveryProps {
  const problems: string[] = [];
  const isInt = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max;

  const retryScheduleS = props.retryScheduleS ?? topology.defaultRetryScheduleS;
  if (retryScheduleS.length > 20 || retryScheduleS.some((s) => !isInt(s, 0, 604_800))) {
    problems.push(
      `retryScheduleS must be up to 20 whole seconds, each 0 to 604800, got [${retryScheduleS.join(', ')}]`,
    );
  }
  const maxTimeoutMs = topology.delivery.functionTimeoutS * 1000 - DELIVERY_TIMEOUT_MARGIN_MS;
  const deliveryTimeoutMs = props.deliveryTimeoutMs ?? CONTRACT_DEFAULTS.deliveryTimeoutMs;
  if (!isInt(deliveryTimeoutMs, 1, maxTimeoutMs)) {
    problems.push(`deliveryTimeoutMs must be a whole number from 1 to ${maxTimeoutMs}, got ${deliveryTimeoutMs}`);
  }
  const housekeepingRateS = props.housekeepingRateS ?? topology.housekeeping.defaultRateS;
  let rateMinutes = 1;
  try {
    rateMinutes = housekeepingRateMinutes(housekeepingRateS);
  } catch (e) {
    problems.push((e as Error).message);
  }
  const retentionDays = props.retentionDays ?? topology.retention.days;
  if (!isInt(retentionDays, 1, 3650))
    problems.push(`retentionDays must be a whole number from 1 to 3650, got ${retentionDays}`);
  const maxConcurrency = props.maxConcurrency ?? topology.delivery.maxConcurrency;
  if (!isInt(maxConcurrency, 2, 1000))
    problems.push(`maxConcurrency must be a whole number from 2 to 1000, got ${maxConcurrency}`);
  const apiThrottle = props.apiThrottle ?? { rateLimit: 100, burstLimit: 200 };
  if (!(apiThrottle.rateLimit > 0) || !isInt(apiThrottle.burstLimit, 1, 5000)) {
    problems.push(
      `apiThrottle needs rateLimit > 0 and a whole burstLimit from 1 to 5000, got ${JSON.stringify(apiThrottle)}`,
    );
  }
  const apiShape = props.apiShape ?? 'http';
  if (apiShape !== 'http' && apiShape !== 'rest') {
    problems.push(`apiShape must be http or rest, got ${JSON.stringify(apiShape)}`);
  }
  const rateLimit = props.portal?.rateLimit;
  if (rateLimit) {
    try {
      parsePortalRateLimit(`${rateLimit.capacity},${rateLimit.refillPerS}`);
    } catch (e) {
      problems.push(`portal.rateLimit ${(e as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`invalid WebhookDelivery props: ${problems.join('; ')}`);

  return {
    retryScheduleS,
    deliveryTimeoutMs,
    allowPrivateTargets: props.allowPrivateTargets ?? false,
    housekeepingRateMinutes: rateMinutes,
    retentionDays,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    maxConcurrency,
    apiThrottle,
    apiShape,
    dashboard: props.dashboard ?? true,
    logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
  };
}

/** The version in package.json, sent as `user-agent: hookrelay/<version>`. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/**
 * hookrelay on AWS: the HTTP API, the event bus, the delivery queues and worker, housekeeping,
 * the table, alarms and a dashboard, configured from `infra/topology.ts`.
 *
 * @example
 * const hooks = new WebhookDelivery(stack, 'Webhooks', { alarmTopic: opsTopic, retentionDays: 14 });
 * new CfnOutput(stack, 'ApiUrl', { value: hooks.api.url });
 */
export class WebhookDelivery extends Construct {
  readonly settings: ResolvedWebhookDeliveryProps;
  readonly store: WebhookStore;
  readonly queues: DeliveryQueues;
  /** The FIFO lane of strict endpoints (ordered delivery). */
  readonly ordered: OrderedLane;
  readonly api: WebhookApi;
  readonly worker: DeliveryWorker;
  readonly ingest: IngestBus;
  readonly housekeeping: Housekeeping;
  readonly alarms: DeliveryAlarms;
  /** The dashboard, unless `dashboard: false` left it out. */
  readonly dashboard: DeliveryDashboard | undefined;

  constructor(scope: Construct, id: string, props: WebhookDeliveryProps = {}) {
    super(scope, id);
    const s = resolveWebhookDeliveryProps(props);
    this.settings = s;
    const entry = (name: HandlerName) => props.handlerEntries?.[name] ?? defaultHandlerEntry(name);

    this.store = new WebhookStore(this, 'Store', {
      removalPolicy: s.removalPolicy,
      encryptionKey: props.tableEncryptionKey,
    });
    this.queues = new DeliveryQueues(this, 'Queues');
    this.ordered = new OrderedLane(this, 'Ordered');
    const { store } = this;
    const table = store.table;

    const environment = functionEnvironment(table, this.queues, this.ordered, s, props);
    const common = { environment, logRetention: s.logRetention, removalPolicy: s.removalPolicy };

    this.api = new WebhookApi(this, 'Api', {
      ...common,
      entry: entry('api'),
      store,
      queues: this.queues,
      throttle: s.apiThrottle,
      shape: s.apiShape,
    });
    this.worker = new DeliveryWorker(this, 'Worker', {
      ...common,
      entry: entry('delivery'),
      store,
      queues: this.queues,
      maxConcurrency: s.maxConcurrency,
    });
    this.ingest = new IngestBus(this, 'Ingest', {
      ...common,
      entry: entry('ingest'),
      store,
      queues: this.queues,
    });
    this.housekeeping = new Housekeeping(this, 'Housekeeping', {
      ...common,
      entry: entry('housekeeping'),
      store,
      queues: this.queues,
      rateMinutes: s.housekeepingRateMinutes,
    });

    // Strict endpoints' deliveries: the worker consumes the lane; whoever sends deliveries sends there too.
    this.ordered.feed(this.worker.function.fn, topology.delivery.orderedConcurrency);
    for (const fn of [this.api.function.fn, this.ingest.function.fn, this.housekeeping.function.fn]) {
      this.ordered.grantSend(fn);
    }
    this.ordered.grantRelease(this.api.function.fn);
    // The skip route fails a key's head: its dead letter goes to the DLQ like any failed delivery's.
    this.queues.deadLetter.grant(this.api.function.fn, 'sqs:SendMessage');

    const functions: Record<HandlerName, lambda.IFunction> = {
      api: this.api.function.fn,
      delivery: this.worker.function.fn,
      ingest: this.ingest.function.fn,
      housekeeping: this.housekeeping.function.fn,
    };

    this.alarms = new DeliveryAlarms(this, 'Alarms', {
      deadLetterQueue: this.queues.deadLetter,
      ingestDeadLetterQueue: this.ingest.deadLetter,
      orderedDeadLetterQueue: this.ordered.deadLetter,
      ingestQueue: this.ingest.queue,
      api: this.api.metrics,
      functions,
      alarmTopic: props.alarmTopic,
    });
    this.dashboard = !s.dashboard
      ? undefined
      : new DeliveryDashboard(this, 'Dashboard', {
          queues: {
            workShards: this.queues.workShards,
            retry: this.queues.retry,
            deadLetter: this.queues.deadLetter,
            ingest: this.ingest.queue,
            ingestDeadLetter: this.ingest.deadLetter,
          },
          api: this.api.metrics,
          functions,
          alarms: this.alarms.alarms,
        });
  }
}

/**
 * Every function gets the same configuration (functions/config.ts parses all of it at cold
 * start); an environment variable naming a resource grants nothing by itself.
 */
function functionEnvironment(
  table: { tableName: string },
  queues: DeliveryQueues,
  ordered: OrderedLane,
  s: ReturnType<typeof resolveWebhookDeliveryProps>,
  props: WebhookDeliveryProps,
): Record<string, string> {
  return {
    [ENV.tableName]: table.tableName,
    [ENV.workQueueUrl]: queues.work.queueUrl,
    [ENV.workShardUrls]: Fn.join(
      ',',
      queues.workShards.map((q) => q.queueUrl),
    ),
    [ENV.retryQueueUrl]: queues.retry.queueUrl,
    [ENV.isolatedQueueUrl]: queues.isolated.queueUrl,
    [ENV.dlqUrl]: queues.deadLetter.queueUrl,
    [ENV.orderedQueueUrl]: ordered.queue.queueUrl,
    [ENV.retrySchedule]: s.retryScheduleS.join(','),
    [ENV.deliveryTimeoutMs]: String(s.deliveryTimeoutMs),
    [ENV.allowPrivateTargets]: String(s.allowPrivateTargets),
    [ENV.housekeepingRateS]: String(s.housekeepingRateMinutes * 60),
    [ENV.retentionDays]: String(s.retentionDays),
    [ENV.version]: packageVersion(),
    ...functionTunables(),
    ...(props.portal?.frameAncestors ? { [ENV.portalFrameAncestors]: props.portal.frameAncestors } : {}),
    ...(props.portal?.url ? { [ENV.portalUrl]: props.portal.url } : {}),
    ...(props.portal?.rateLimit
      ? { [ENV.portalRateLimit]: `${props.portal.rateLimit.capacity},${props.portal.rateLimit.refillPerS}` }
      : {}),
  };
}
