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
  /** Bus events the ingest function sent to the ingest DLQ (refused, or out of retries). */
  ingestsDeadLettered: 'IngestsDeadLettered',
} as const;
