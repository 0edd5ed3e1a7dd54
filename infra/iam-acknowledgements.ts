/**
 * Grants in the functions' roles that the end-to-end run does not exercise, each with the reason
 * it stays. test/iam/recorded-calls.test.ts fails on any other grant no recorded call used, and
 * on any entry here that no longer matches an unused grant (a stale reason misleads).
 *
 * `role` is the function (its FUNCTION_TAG, infra/topology.ts), `action` an IAM action (`*` wildcards
 * allowed), `resource` a glob over the granted resource as the template names it: the logical id
 * of the resource, with any suffix the grant adds (`<table>/index/*`), or `*`.
 */
export interface GrantAcknowledgement {
  role: string;
  action: string;
  resource: string;
  reason: string;
}

const ALL = ['api', 'delivery', 'ingest', 'housekeeping'];
const each = (roles: string[], action: string, resource: string, reason: string): GrantAcknowledgement[] =>
  roles.map((role) => ({ role, action, resource, reason }));

export const GRANT_ACKNOWLEDGEMENTS: GrantAcknowledgement[] = [
  ...each(
    ALL,
    'logs:*',
    '*Logs*',
    "Lambda's runtime writes the function's own log group with its role (logGroup.grantWrite); the function code never calls CloudWatch Logs.",
  ),
  ...each(
    ALL,
    'xray:*',
    '*',
    "Lambda's runtime sends the active-tracing segments with the function's role; X-Ray takes only Resource '*'.",
  ),
  ...each(
    ALL,
    'kms:*',
    'HookrelayStoreTableKey*',
    'DynamoDB uses the table key on the caller’s behalf (kms:ViaService) for every item read and write of the customer-managed-key table; no emulator shows those calls. The set is the DynamoDB guide’s list for principals of such a table.',
  ),
  {
    role: 'delivery',
    action: 'sqs:ChangeMessageVisibility',
    resource: 'HookrelayQueues*',
    reason:
      "The SQS event source mapping's consume grant (CDK SqsEventSource): Lambda's poller may change a message's visibility; not seen locally.",
  },
  {
    role: 'delivery',
    action: 'sqs:GetQueueUrl',
    resource: 'HookrelayQueues*',
    reason: "The SQS event source mapping's consume grant (CDK SqsEventSource); Lambda's poller works by queue ARN.",
  },
  {
    role: 'ingest',
    action: 'sqs:GetQueueUrl',
    resource: 'HookrelayIngestQueue*',
    reason: "The SQS event source mapping's consume grant (CDK SqsEventSource); Lambda's poller works by queue ARN.",
  },
  {
    role: 'ingest',
    action: 'sqs:ChangeMessageVisibility',
    resource: 'HookrelayIngestQueue*',
    reason:
      'The ingest function backs off an event it could not ingest yet by changing its message visibility (intake/sqs-ingest-queues.ts); the end-to-end run has no failing ingest (test/integration/eventbridge-ingest.int.test.ts drives it on the sources).',
  },
  {
    role: 'ingest',
    action: 'sqs:SendMessage',
    resource: 'HookrelayIngestDeadLetter*',
    reason:
      'The ingest function dead-letters an event it refuses (unknown app, invalid data) itself, with the reason (intake/bus-intake.ts); the end-to-end run sends only valid events on the bus.',
  },
  {
    role: 'ingest',
    action: 'dynamodb:UpdateItem',
    resource: 'HookrelayStoreTable*',
    reason:
      'A bus event id whose claim was abandoned (an ingest that died between claiming the id and storing the event) is taken over with a conditional UpdateItem (event-store putWithChosenId); the end-to-end run has no ingest dying mid-way (test/integration/dynamo-store.int.test.ts drives it).',
  },
  {
    role: 'ingest',
    action: 'dynamodb:BatchWriteItem',
    resource: 'HookrelayStoreTable*',
    reason:
      'A fan-out that finds disabled endpoints records their skipped deliveries in one BatchWriteItem (delivery-store putSkippedDeliveries); the end-to-end run puts bus events for enabled endpoints only.',
  },
  {
    role: 'ingest',
    action: 'sqs:SendMessage',
    resource: 'HookrelayQueuesIsolated*',
    reason:
      "A bus event's first attempt to a rate-limited, throttled or paused endpoint goes to the isolation lane (flow control); the end-to-end run puts bus events for unthrottled endpoints only (test/e2e/flow-control.e2e.test.ts drives the lane through the API).",
  },
  {
    role: 'delivery',
    action: 'sqs:GetQueueUrl',
    resource: 'HookrelayOrderedQueue*',
    reason:
      "The ordered lane's event source mapping consume grant (CDK SqsEventSource); Lambda's poller works by queue ARN.",
  },
  {
    role: 'delivery',
    action: 'sqs:SendMessage',
    resource: 'HookrelayOrderedQueue*',
    reason:
      "A standard lane forwards a strict endpoint's message to the ordered lane (a DLQ redrive, a message from before the endpoint turned strict: delivery/deliver.ts); the end-to-end run sends strict deliveries through the API only.",
  },
  {
    role: 'ingest',
    action: 'sqs:SendMessage',
    resource: 'HookrelayOrderedQueue*',
    reason:
      "A bus event for a strict endpoint goes to the ordered lane (delivery/sqs-queues.ts routes by the message's order); the end-to-end run puts bus events for unordered endpoints only.",
  },
  {
    role: 'housekeeping',
    action: 'sqs:SendMessage',
    resource: 'HookrelayOrderedQueue*',
    reason:
      "Housekeeping sends a strict delivery whose message was lost (a recover pass after the queues went) to its key's line in the ordered lane; the end-to-end run loses no strict delivery (test/faults/sigkill-ordering.faults.test.ts does).",
  },
  {
    role: 'housekeeping',
    action: 'sqs:SendMessage',
    resource: 'HookrelayQueuesWork*',
    reason:
      'Housekeeping re-enqueues a first attempt whose message was lost (a fan-out cut short); the end-to-end run loses only a retry, which goes to the retry queue.',
  },
];
