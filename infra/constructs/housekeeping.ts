import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HookrelayFunction, logicalIdOf } from './hookrelay-function';
import type { WebhookStore } from './store';
import type { DeliveryQueues } from './queues';

/**
 * EventBridge schedules run at whole-minute rates: a rate in seconds becomes the next whole
 * minute up, and never less than one minute.
 */
export function housekeepingRateMinutes(rateS: number): number {
  if (!Number.isFinite(rateS) || rateS <= 0) {
    throw new Error(`housekeepingRateS must be a positive number of seconds, got ${rateS}`);
  }
  return Math.max(1, Math.ceil(rateS / 60));
}

export interface HousekeepingProps {
  readonly entry: string;
  readonly store: WebhookStore;
  readonly queues: DeliveryQueues;
  readonly environment: Record<string, string>;
  readonly rateMinutes: number;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The periodic sweep: enqueues deliveries that come due within the lookahead and re-enqueues
 * those stuck past their lease. Runs on an EventBridge schedule rule. (The DLQ's depth is the
 * DeadLetterMessages alarm's, from CloudWatch: the function never reads the DLQ, so its role
 * has no grant on it.)
 */
export class Housekeeping extends Construct {
  readonly function: HookrelayFunction;
  readonly schedule: events.Rule;

  constructor(scope: Construct, id: string, props: HousekeepingProps) {
    super(scope, id);

    this.function = new HookrelayFunction(this, 'Housekeeping', {
      handler: 'housekeeping',
      entry: props.entry,
      description: 'hookrelay: scheduled sweep of due and stuck deliveries',
      // Shorter than the shortest period, so that two sweeps never overlap.
      timeout: Duration.seconds(60),
      memorySize: 256,
      environment: props.environment,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      // A failed sweep is not retried: the next one, a period later, does the same work.
      asyncRetryAttempts: 0,
    });
    const fn = this.function.fn;
    // The sweep's operations: queries (the open index, an event's partition), the items they
    // name, and conditional updates; and the record of since when events carry activity markers
    // (HK#reconcile/#ACTIVITY: a conditional PutItem once, then a consistent GetItem, in
    // intake/dynamo-event-store.ts markersSince), plus an app's shard count (GetItem).
    props.store.grantReadWriteData(
      fn,
      ['dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:UpdateItem', 'dynamodb:GetItem', 'dynamodb:PutItem'],
      { queryIndexes: true },
    );
    // SendMessage alone: the code never calls grantSendMessages' GetQueueAttributes or GetQueueUrl (test/iam).
    for (const q of props.queues.workShards) q.grant(fn, 'sqs:SendMessage');
    props.queues.retry.grant(fn, 'sqs:SendMessage');
    this.function.acknowledgeTableIndexes(logicalIdOf(props.store.table));

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `hookrelay: housekeeping every ${props.rateMinutes} minute(s)`,
      schedule: events.Schedule.rate(Duration.minutes(props.rateMinutes)),
      targets: [new targets.LambdaFunction(fn, { retryAttempts: 0 })],
    });
  }
}
