/**
 * The composition root's services: what each handler needs, built over its container
 * (functions/container.ts) when the handler is first invoked. One builder per function, so that
 * a function's bundle carries its own use cases only (the api's no delivery worker, the delivery's
 * no JSON Schema compiler).
 *
 * @example
 * const services = once(() => deliveryServices(container()));
 * await services().deliver.handle(message, receiveCount);
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { adminKeyReader } from './access/aws-admin-key';
import { createGuardedAgent, resolveAllowedAddresses } from './webhook/guarded-lookup';
import { HttpSender } from './webhook/http-sender';
import { OAuth2Tokens } from './webhook/oauth2-tokens';
import { SqsIngestDeadLetterQueue, SqsIngestQueue } from './intake/sqs-ingest-queues';
import { CoalescingScheduler, SqsDeadLetterQueue } from './delivery/sqs-queues';
import type { Config } from './config';
import type { Container } from './container';
import { createAppService, type DestinationCheck } from './endpoints/apps';
import { createBusIntake } from './intake/bus-intake';
import { createKeyService } from './access/keys';
import { createReplayService } from './delivery/replay';
import { createDeliverService, type DeliveryObserver } from './delivery/deliver';
import { DEFAULT_BREAKER } from './flow/breaker';
import { createFlowGate } from './flow/gate';
import { DynamoHeldKeyStore } from './ordering/dynamo-held-keys';
import { createOrderedDelivery } from './ordering/ordered-delivery';
import { createOrderedLane } from './ordering/ordered-lane';
import { createOrderingService } from './ordering/ordering-service';
import { SqsLaneQueue } from './ordering/sqs-ordered-lane';
import { createEndpointHealth } from './endpoints/endpoint-health';
import { Status, type DeliveryScheduler } from './delivery/lifecycle';
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
import { METRIC_NAMES } from './shared/metric-names';
import { logger, metrics } from './telemetry';

/** How long an ordered delivery whose handling failed (the table, a queue) waits before it is tried again. */
const ORDERED_ERROR_HOLD_MS = 30_000;
/** How long the bus's ingest gathers first attempts into shared requests (see CoalescingScheduler). */
const BUS_SEND_WINDOW_MS = 10;

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

/** Flow control's metrics and log lines (docs/flow-control.md). */
const flowMetrics: DeliveryObserver = {
  deferred: (reason, waitMs) => {
    metrics.addMetric(M.deliveriesDeferred, MetricUnit.Count, 1);
    if (reason === 'rate' || reason === 'retry_after') metrics.addMetric(M.rateWaitMs, MetricUnit.Milliseconds, waitMs);
  },
  throttleChanged: (endpoint, throttle) => {
    logger.info('endpoint flow state changed', { appId: endpoint.appId, endpointId: endpoint.id, throttle });
    if (throttle?.state === 'paused' && endpoint.throttle?.state !== 'paused')
      metrics.addMetric(M.endpointsPaused, MetricUnit.Count, 1);
    if (throttle?.state === 'throttled' && endpoint.throttle === undefined)
      metrics.addMetric(M.endpointsThrottled, MetricUnit.Count, 1);
  },
  flowError: (err) => logger.warn('could not write an endpoint flow state change', { error: err as Error }),
};

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

/** The ordered lane's held keys and its FIFO queue (the delivery function's lane; the api's skip). */
function orderedLaneParts({ cfg, aws, stores }: Container) {
  return {
    heldKeys: new DynamoHeldKeyStore(stores.table),
    laneQueue: new SqsLaneQueue(aws.sqs, cfg.orderedQueueUrl, cfg.dlqUrl, (message, detail) =>
      logger.warn(message, { detail }),
    ),
    deadLetters: new SqsDeadLetterQueue(aws.sqs, cfg.dlqUrl),
  };
}

/** The flow gate: one per container (a Lambda execution environment). */
export function flowGate(cfg: Config) {
  // Its rate shares count the isolation-lane and ordered-lane batches this container runs at
  // once: one on Lambda; the local runtime runs several in one process.
  const lanes = { isolated: 0, isolatedMost: 1, ordered: 0, orderedMost: 1 };
  const gate = createFlowGate({
    laneConcurrency: { isolated: cfg.isolatedConcurrency, ordered: cfg.orderedConcurrency },
    sharedBudgetMs: cfg.sharedLaneBudgetMs,
    // The most seen at once, not the current count: a share that changed with each batch would
    // leave tokens reserved at the old rate beside new ones at the new.
    containerSlots: (lane) => (lane === 'isolated' ? lanes.isolatedMost : lane === 'ordered' ? lanes.orderedMost : 1),
    // A paused endpoint's first probe comes with the schedule's first retry (5 s by default), at
    // least a second and at most 30 s after the pause; each failed probe doubles the wait.
    breaker: {
      ...DEFAULT_BREAKER,
      firstProbeAfterMs: Math.min(30_000, Math.max(1000, (cfg.retryScheduleS[0] ?? 30) * 1000)),
    },
  });
  return { gate, lanes };
}

/**
 * The delivery function's services: the unordered lane's deliver, strict endpoints' ordered lane
 * (the same sending, signing and outcomes, in each key's order). The webhook sender's sockets
 * close with the container.
 */
export function deliveryServices(container: Container) {
  const { cfg, stores, scheduler, life } = container;
  const policy = new RetryPolicy({ scheduleS: cfg.retryScheduleS, jitter: cfg.retryJitter });
  const { sender, tokens, userAgent } = webhookSenders(cfg);
  container.onClose(() => sender.close());
  const { heldKeys, laneQueue, deadLetters } = orderedLaneParts(container);
  const { gate, lanes } = flowGate(cfg);
  const health = () => createEndpointHealth({ store: stores.apps, disableAfterFailingS: cfg.disableAfterFailingS });
  const sending = { sender, tokens, deadLetters, policy, timeoutMs: cfg.deliveryTimeoutMs, userAgent };
  const deliver = createDeliverService({
    events: stores.events,
    store: stores.deliveries,
    endpoints: stores.apps,
    health: health(),
    ...sending,
    scheduler,
    life,
    flow: { gate, throttles: stores.apps },
    observer: { ...deliveryMetrics, ...flowMetrics },
  });
  // The ordered lane's head is held by its visibility while it waits.
  const orderedLane = createOrderedLane({
    deliver: createOrderedDelivery({
      events: stores.events,
      store: stores.deliveries,
      held: heldKeys,
      endpoints: stores.apps,
      health: health(),
      ...sending,
      // The same gate as the other lanes: a strict endpoint's rate limit, its receiver's 429s and
      // the breaker hold its keys' heads (by their visibility: nothing is attempted or lost).
      gate: {
        admit: (endpoint, nowMs) => {
          const a = gate.admit(endpoint, 'ordered', nowMs);
          return a.go ? { go: true, sleepMs: a.sleepMs } : { go: false, waitMs: a.waitMs, reason: a.reason };
        },
        observe: async (endpoint, signal, nowMs) => {
          const change = gate.observe(endpoint, signal, nowMs);
          if (change) await stores.apps.saveThrottle(endpoint.appId, endpoint.id, change.throttle);
        },
      },
      observer: deliveryMetrics,
    }),
    queue: laneQueue,
    errorHoldMs: ORDERED_ERROR_HOLD_MS,
    onError: (err, record) =>
      logger.error('ordered delivery failed; held for a retry', { err, messageId: record.messageId }),
  });
  return {
    cfg,
    deliver,
    /** Isolation-lane batches this container is running (the delivery handler counts them). */
    lanes,
    orderedLane,
  };
}

/** The catalog's store and its rules, read at most every 10 s while events arrive (one per container). */
function catalog({ stores }: Container) {
  const store = new DynamoCatalogStore(stores.table);
  return { store, check: createCatalogCheck({ listAll: () => listAllEventTypes(store) }) };
}

function ingestService({ stores }: Container, check: ReturnType<typeof catalog>['check'], sends: DeliveryScheduler) {
  return createIngestService({
    apps: stores.apps,
    events: stores.events,
    deliveries: stores.deliveries,
    catalog: check,
    scheduler: sends,
    onAccepted: () => metrics.addMetric(M.eventsAccepted, MetricUnit.Count, 1),
  });
}

/** The ingest function's services: the bus's events, from the ingest queue. */
export function ingestServices(container: Container) {
  const { cfg, aws, scheduler } = container;
  // The bus's events arrive ten an invocation and are ingested concurrently: their first attempts
  // share SendMessageBatch requests (within a few milliseconds) instead of taking one each.
  const busIngest = ingestService(
    container,
    catalog(container).check,
    new CoalescingScheduler(scheduler, BUS_SEND_WINDOW_MS),
  );
  return {
    busIntake: createBusIntake({
      ingest: (req) => busIngest.ingest(req),
      deadLetters: new SqsIngestDeadLetterQueue(aws.sqs, cfg.ingestDlqUrl),
      retry: cfg.ingestRetry,
      onDeadLettered: () => metrics.addMetric(M.ingestsDeadLettered, MetricUnit.Count, 1),
    }),
    ingestQueue: new SqsIngestQueue(aws.sqs, cfg.ingestQueueUrl),
  };
}

/** The housekeeping function's services. */
export function housekeepingServices({ stores, scheduler, life }: Container) {
  return {
    housekeeping: createHousekeeping({
      store: stores.housekeeping,
      apps: stores.apps,
      events: stores.events,
      deliveries: stores.deliveries,
      scheduler,
      life,
      stuckAfterRequeues: 3,
    }),
  };
}

/** The api function's services: every route's use case. The admin key reader closes with the container. */
export function apiServices(container: Container) {
  const { cfg, stores, scheduler, life } = container;
  const apps = createAppService({
    store: stores.apps,
    checkDestination: destinationCheck(cfg.allowPrivateTargets),
    rotationOverlapS: cfg.secretRotationOverlapS,
  });
  const { store: catalogStore, check: catalogCheck } = catalog(container);
  const eventTypes = createEventTypeService({ store: catalogStore, onChange: () => catalogCheck.invalidate() });
  const portal = createPortalAccessService({ store: catalogStore, requireApp: apps.requireApp });
  const adminKey = adminKeyReader(cfg);
  container.onClose(() => adminKey.destroy());
  const { heldKeys, laneQueue, deadLetters } = orderedLaneParts(container);
  const getEndpoint = (appId: string, endpointId: string) => stores.apps.getEndpoint(appId, endpointId);
  const userAgent = `hookrelay/${cfg.version}`;
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
      getEndpoint,
      getEventType: (name) => catalogStore.getEventType(name),
    }),
    keys: createKeyService({
      store: stores.apps,
      adminKey: () => adminKey.read(),
      requireApp: apps.requireApp,
      portal,
    }),
    replay: createReplayService({
      events: stores.events,
      deliveries: stores.deliveries,
      scheduler,
      getEndpoint,
      life,
      recoverMax: cfg.recoverMaxPerCall,
    }),
    ingest: ingestService(container, catalogCheck, scheduler),
    queries: createEventQueries(stores, { feedSettleMs: cfg.feedSettleMs, held: heldKeys }),
    ordering: createOrderingService({
      held: heldKeys,
      store: stores.deliveries,
      deadLetters,
      release: (receiptHandle) => laneQueue.release(receiptHandle),
      getEndpoint,
      saveThrottle: (appId, endpointId, throttle) => stores.apps.saveThrottle(appId, endpointId, throttle),
    }),
  };
}

export type ApiServices = ReturnType<typeof apiServices>;
export type DeliveryServices = ReturnType<typeof deliveryServices>;
export type IngestServices = ReturnType<typeof ingestServices>;
export type HousekeepingServices = ReturnType<typeof housekeepingServices>;
