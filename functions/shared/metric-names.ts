/**
 * The CloudWatch metrics the functions emit (Powertools, embedded metric format). The
 * functions own these names; the stack's alarms and dashboard read them from here.
 */
export const METRICS_NAMESPACE = 'hookrelay';

export const METRIC_NAMES = {
  eventsAccepted: 'EventsAccepted',
  deliveriesSucceeded: 'DeliveriesSucceeded',
  attemptsFailed: 'AttemptsFailed',
  deliveriesRetried: 'DeliveriesRetried',
  deliveriesFailed: 'DeliveriesFailed',
  deliveriesSkipped: 'DeliveriesSkipped',
  deliveryLatencyMs: 'DeliveryLatencyMs',
  housekeepingRequeued: 'HousekeepingRequeued',
  housekeepingStuck: 'HousekeepingStuck',
  /** Deliveries flow control made wait or moved to the isolation lane (no attempt counted). */
  deliveriesDeferred: 'DeliveriesDeferred',
  /** How long a delivery waits for its endpoint's rate (rate limit, adaptive rate, Retry-After). */
  rateWaitMs: 'RateWaitMs',
  /** Endpoints the breaker paused (one per pause, from the container that paused it). */
  endpointsPaused: 'EndpointsPaused',
  /** Endpoints flow control throttled (a lower rate, or isolated for slowness). */
  endpointsThrottled: 'EndpointsThrottled',
  /** Bus events the ingest function sent to the ingest DLQ (refused, or out of retries). */
  ingestsDeadLettered: 'IngestsDeadLettered',
} as const;
