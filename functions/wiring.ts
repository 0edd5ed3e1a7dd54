/**
 * The composition root: builds the core's services with their adapters once per process (a
 * Lambda cold start, or the local runtime's first call). Handlers ask for what they need here.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { adminKey } from './access/aws-admin-key';
import { dynamoClient, sqsClient } from './shared/aws-clients';
import { dynamoStores, type DynamoStores } from './dynamo-stores';
import { createGuardedAgent, resolveAllowedAddresses } from './webhook/guarded-lookup';
import { HttpSender } from './webhook/http-sender';
import { OAuth2Tokens } from './webhook/oauth2-tokens';
import { SqsIngestDeadLetterQueue, SqsIngestQueue } from './intake/sqs-ingest-queues';
import { CoalescingScheduler, SqsDeadLetterQueue, SqsScheduler } from './delivery/sqs-queues';
import { config, type Config } from './config';
import { createAppService, type DestinationCheck } from './endpoints/apps';
import { createBusIntake } from './intake/bus-intake';
import { createKeyService } from './access/keys';
import { createReplayService } from './delivery/replay';
import { createDeliverService, type DeliveryObserver } from './delivery/deliver';
import { DynamoHeldKeyStore } from './ordering/dynamo-held-keys';
import { createOrderedDelivery } from './ordering/ordered-delivery';
import { createOrderedLane } from './ordering/ordered-lane';
import { createOrderingService } from './ordering/ordering-service';
import { SqsLaneQueue } from './ordering/sqs-ordered-lane';
import { createEndpointHealth } from './endpoints/endpoint-health';
import { lifecycle, Status, type DeliveryScheduler, type Lifecycle } from './delivery/lifecycle';
import { checkDestinationUrl, findForbiddenDestinationError } from './webhook/destination-guard';
import { createHousekeeping } from './delivery/housekeeping';
import { createIngestService } from './intake/ingest';
import { createEventQueries } from './delivery/queries';
import { DynamoCatalogStore } from './catalog/dynamo-catalog-store';
import { DynamoEndpointLogStore } from './endpoints/dynamo-endpoint-log-store';
import { createEndpointLog } from './endpoints/endpoint-log';
import { describeWebhookRequest } from './webhook/webhook';
import { createCatalogCheck } from './catalog/catalog-check';
import { createEventTypeService, listAllEventTypes } from './catalog/event-types';
import { createPortalAccessService } from './access/portal-access';
import { createRateLimiter } from './access/rate-limit';
import { createTestEventService } from './intake/test-events';
import { RetryPolicy } from './delivery/retry-policy';
import { METRIC_NAMES, METRICS_NAMESPACE } from './shared/metric-names';

/** How long a delivery worker reuses an endpoint it read (see DynamoAppStore.endpointForDelivery). */
const ENDPOINT_CACHE_MS = 5000;
/** How long an ordered delivery whose handling failed (the table, a queue) waits before it is tried again. */
const ORDERED_ERROR_HOLD_MS = 30_000;
/** How long the bus's ingest gathers first attempts into shared requests (see CoalescingScheduler). */
const BUS_SEND_WINDOW_MS = 10;

export const logger = new Logger({ serviceName: 'hookrelay' });
export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName: 'hookrelay',
  // Powertools warns on every invocation that adds no metric (most API calls): noise, and log
  // volume that CloudWatch bills. Everything else it says goes to our logger.
  logger: {
    trace: (...a: unknown[]) => logger.debug(String(a[0]), ...a.slice(1).map((x) => ({ detail: x }))),
    debug: (...a: unknown[]) => logger.debug(String(a[0]), ...a.slice(1).map((x) => ({ detail: x }))),
    info: (...a: unknown[]) => logger.info(String(a[0]), ...a.slice(1).map((x) => ({ detail: x }))),
    warn: (...a: unknown[]) => {
      if (!String(a[0]).startsWith('No application metrics to publish')) logger.warn(String(a[0]));
    },
    error: (...a: unknown[]) => logger.error(String(a[0]), ...a.slice(1).map((x) => ({ detail: x }))),
  },
});
const M = METRIC_NAMES;

/**
 * The SSRF guard at registration: the URL's form and any IP literal, then, for a name, every
 * address it resolves to now. A name that does not resolve yet is accepted: the guarded agent
 * checks again at every connect, which is what defeats DNS rebinding.
 */
function destinationCheck(allowPrivate: boolean): DestinationCheck {
  return async (raw) => {
    const verdict = checkDestinationUrl(raw, { allowPrivate });
    if (!verdict.ok) return { ok: false, reason: verdict.reason };
    if (!allowPrivate) {
      try {
        await resolveAllowedAddresses(verdict.host, { allowPrivate });
      } catch (err) {
        const forbidden = findForbiddenDestinationError(err);
        if (forbidden) return { ok: false, reason: forbidden.message };
      }
    }
    return { ok: true, url: verdict.url.href };
  };
}

/** The delivery's metrics, through the workers' observer port. */
const deliveryMetrics: DeliveryObserver = {
  attempted: (a) => {
    if (a.outcome !== 'succeeded') metrics.addMetric(M.attemptsFailed, MetricUnit.Count, 1);
  },
  retried: () => metrics.addMetric(M.deliveriesRetried, MetricUnit.Count, 1),
  finished: (status, { event, at }) => {
    if (status === Status.succeeded) {
      metrics.addMetric(M.deliveriesSucceeded, MetricUnit.Count, 1);
      metrics.addMetric(M.deliveryLatencyMs, MetricUnit.Milliseconds, at.getTime() - Date.parse(event.timestamp));
    } else if (status === Status.failed) {
      metrics.addMetric(M.deliveriesFailed, MetricUnit.Count, 1);
    } else if (status === Status.skipped) {
      metrics.addMetric(M.deliveriesSkipped, MetricUnit.Count, 1);
    }
  },
};

/** What sends webhooks, and OAuth2 token requests, through one guarded agent. */
function webhookSenders(cfg: Config) {
  // Checks every address again at connect time, keeps connections alive, never follows redirects.
  const agent = createGuardedAgent({
    allowPrivate: cfg.allowPrivateTargets,
    keepAliveTimeoutMs: 30_000,
    connections: 64,
  });
  const sender = new HttpSender({ excerptBytes: cfg.responseExcerptBytes, agent });
  const userAgent = `hookrelay/${cfg.version}`;
  // OAuth2 token requests go through the same guarded agent; a token response needs more than an excerpt.
  const tokens = new OAuth2Tokens({
    sender: new HttpSender({ excerptBytes: 16 * 1024, bodyGraceMs: cfg.deliveryTimeoutMs, agent }),
    userAgent,
  });
  return { sender, tokens, userAgent };
}

/**
 * The delivery workers: the unordered lane's deliver, strict endpoints' ordered lane (the same
 * sending, signing and outcomes, in each key's order) and the skip of a held key.
 */
function deliveryWorkers(
  cfg: Config,
  stores: DynamoStores,
  sqs: ReturnType<typeof sqsClient>,
  shared: { scheduler: SqsScheduler; life: Lifecycle; policy: RetryPolicy },
) {
  const { scheduler, life, policy } = shared;
  const { sender, tokens, userAgent } = webhookSenders(cfg);
  const deadLetters = new SqsDeadLetterQueue(sqs, cfg.dlqUrl);
  const deliver = createDeliverService({
    events: stores.events,
    store: stores.deliveries,
    endpoints: stores.apps,
    health: createEndpointHealth({ store: stores.apps, disableAfterFailingS: cfg.disableAfterFailingS }),
    sender,
    tokens,
    scheduler,
    deadLetters,
    policy,
    life,
    timeoutMs: cfg.deliveryTimeoutMs,
    userAgent,
    observer: deliveryMetrics,
  });
  // The ordered lane's head is held by its visibility while it waits.
  const heldKeys = new DynamoHeldKeyStore(stores.table);
  const laneQueue = new SqsLaneQueue(sqs, cfg.orderedQueueUrl, cfg.dlqUrl, (message, detail) =>
    logger.warn(message, { detail }),
  );
  const orderedLane = createOrderedLane({
    deliver: createOrderedDelivery({
      events: stores.events,
      store: stores.deliveries,
      held: heldKeys,
      endpoints: stores.apps,
      health: createEndpointHealth({ store: stores.apps, disableAfterFailingS: cfg.disableAfterFailingS }),
      sender,
      tokens,
      deadLetters,
      policy,
      timeoutMs: cfg.deliveryTimeoutMs,
      userAgent,
      observer: deliveryMetrics,
    }),
    queue: laneQueue,
    errorHoldMs: ORDERED_ERROR_HOLD_MS,
    onError: (err, record) =>
      logger.error('ordered delivery failed; held for a retry', { err, messageId: record.messageId }),
  });
  const ordering = createOrderingService({
    held: heldKeys,
    store: stores.deliveries,
    deadLetters,
    release: (receiptHandle) => laneQueue.release(receiptHandle),
    getEndpoint: (appId, endpointId) => stores.apps.getEndpoint(appId, endpointId),
  });
  return { sender, userAgent, deliver, heldKeys, orderedLane, ordering };
}

function build() {
  const cfg = config();
  const stores = dynamoStores(
    dynamoClient(),
    { tableName: cfg.tableName, retentionDays: cfg.retentionDays },
    // A worker reuses an endpoint it read for a few seconds (never one older than its message's).
    { endpointCacheMs: ENDPOINT_CACHE_MS },
  );
  const sqs = sqsClient();
  const scheduler = new SqsScheduler(sqs, {
    work: cfg.workQueueUrl,
    retry: cfg.retryQueueUrl,
    ordered: cfg.orderedQueueUrl,
  });
  const life = lifecycle({ leaseS: cfg.leaseS });
  const policy = new RetryPolicy({ scheduleS: cfg.retryScheduleS, jitter: cfg.retryJitter });
  const apps = createAppService({
    store: stores.apps,
    checkDestination: destinationCheck(cfg.allowPrivateTargets),
    rotationOverlapS: cfg.secretRotationOverlapS,
  });
  const catalogStore = new DynamoCatalogStore(stores.table);
  // One per container: the catalog's rules, read at most every 10 s while events arrive.
  const catalogCheck = createCatalogCheck({ listAll: () => listAllEventTypes(catalogStore) });
  const ingestVia = (sends: DeliveryScheduler) =>
    createIngestService({
      apps: stores.apps,
      events: stores.events,
      deliveries: stores.deliveries,
      catalog: catalogCheck,
      scheduler: sends,
      onAccepted: () => metrics.addMetric(M.eventsAccepted, MetricUnit.Count, 1),
    });
  const ingest = ingestVia(scheduler);
  // The bus's events arrive ten an invocation and are ingested concurrently: their first attempts
  // share SendMessageBatch requests (within a few milliseconds) instead of taking one each.
  const busIngest = ingestVia(new CoalescingScheduler(scheduler, BUS_SEND_WINDOW_MS));
  const busIntake = createBusIntake({
    ingest: (req) => busIngest.ingest(req),
    deadLetters: new SqsIngestDeadLetterQueue(sqs, cfg.ingestDlqUrl),
    retry: cfg.ingestRetry,
    onDeadLettered: () => metrics.addMetric(M.ingestsDeadLettered, MetricUnit.Count, 1),
  });
  const { sender, userAgent, deliver, heldKeys, orderedLane, ordering } = deliveryWorkers(cfg, stores, sqs, {
    scheduler,
    life,
    policy,
  });
  const housekeeping = createHousekeeping({
    store: stores.housekeeping,
    apps: stores.apps,
    events: stores.events,
    deliveries: stores.deliveries,
    scheduler,
    life,
    stuckAfterRequeues: 3,
  });
  const eventTypes = createEventTypeService({ store: catalogStore, onChange: () => catalogCheck.invalidate() });
  const portal = createPortalAccessService({ store: catalogStore, requireApp: apps.requireApp });
  return {
    cfg,
    apps,
    eventTypes,
    portal,
    portalRateLimiter: createRateLimiter(cfg.portalRateLimit),
    endpointLog: createEndpointLog({
      store: new DynamoEndpointLogStore(stores.table),
      requireEndpoint: (appId, endpointId) => apps.getEndpoint(appId, endpointId),
      findEvent: async (appId, eventId) => (await stores.events.getEvent(appId, eventId, false)) ?? undefined,
      describeRequest: (endpoint, event, at) => describeWebhookRequest(endpoint, event, at, userAgent),
      statsMax: 10_000,
    }),
    testEvents: createTestEventService({
      events: stores.events,
      scheduler,
      getEndpoint: (appId, endpointId) => stores.apps.getEndpoint(appId, endpointId),
      getEventType: (name) => catalogStore.getEventType(name),
    }),
    keys: createKeyService({
      store: stores.apps,
      adminKey: () => adminKey(cfg),
      requireApp: apps.requireApp,
      portal,
    }),
    replay: createReplayService({
      events: stores.events,
      deliveries: stores.deliveries,
      scheduler,
      getEndpoint: (appId, endpointId) => stores.apps.getEndpoint(appId, endpointId),
      life,
      recoverMax: cfg.recoverMaxPerCall,
    }),
    ingest,
    busIntake,
    ingestQueue: new SqsIngestQueue(sqs, cfg.ingestQueueUrl),
    deliver,
    queries: createEventQueries(stores, { feedSettleMs: cfg.feedSettleMs, held: heldKeys }),
    orderedLane,
    ordering,
    housekeeping,
    sender,
  };
}

let services: ReturnType<typeof build> | undefined;

export function wiring() {
  services ??= build();
  return services;
}

/** Drops the built services (the local runtime and tests rebuild them for a new environment). */
export async function resetWiringForTests(): Promise<void> {
  await services?.sender.close();
  services = undefined;
}
