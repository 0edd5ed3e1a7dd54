import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { topology } from '../topology';
import { HookrelayFunction, logicalIdOf } from './hookrelay-function';
import type { WebhookStore } from './store';

export interface IngestBusProps {
  readonly entry: string;
  readonly store: WebhookStore;
  readonly workQueue: sqs.IQueue;
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** Matches every event whose source does not start with `aws.`: producers' events, not AWS's. */
export const INGEST_EVENT_PATTERN: events.EventPattern = {
  source: events.Match.anythingButPrefix('aws.'),
};

/**
 * The producers' way in besides HTTP: a custom event bus whose rule sends each producer event
 * (`DetailType` = event type, `Detail` = `{appId, data, id?}`) to the ingest function.
 *
 * An event that cannot be handled is never dropped silently. EventBridge retries delivery to the
 * function for up to a day, then dead-letters it; once delivered (asynchronously), Lambda retries
 * a failing invocation twice, then dead-letters it too. Both land in the same ingest DLQ with the
 * event as the message body, so they can be replayed with `PutEvents` once fixed. This queue is
 * kept apart from the delivery DLQ, whose messages are delivery messages the CLI redrives.
 */
export class IngestBus extends Construct {
  readonly bus: events.EventBus;
  readonly rule: events.Rule;
  readonly deadLetter: sqs.Queue;
  readonly function: HookrelayFunction;

  constructor(scope: Construct, id: string, props: IngestBusProps) {
    super(scope, id);

    this.bus = new events.EventBus(this, 'Bus', { description: 'hookrelay: producers put events here' });

    this.deadLetter = new sqs.Queue(this, 'DeadLetter', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(topology.queues.dlq.retentionDays),
    });

    this.function = new HookrelayFunction(this, 'Ingest', {
      handler: 'ingest',
      entry: props.entry,
      description: 'hookrelay: accepts events put on the bus and fans them out to endpoints',
      timeout: Duration.seconds(topology.delivery.functionTimeoutS),
      memorySize: 256,
      environment: props.environment,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      asyncRetryAttempts: 2,
      deadLetterQueue: this.deadLetter,
    });
    const fn = this.function.fn;
    props.store.grantReadWriteData(fn);
    props.workQueue.grantSendMessages(fn);
    this.function.acknowledgeTableIndexes(logicalIdOf(props.store.table));

    this.rule = new events.Rule(this, 'Rule', {
      description: 'hookrelay: every producer event (any source not prefixed aws.) to the ingest function',
      eventBus: this.bus,
      eventPattern: INGEST_EVENT_PATTERN,
      targets: [
        new targets.LambdaFunction(fn, {
          deadLetterQueue: this.deadLetter,
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });
  }
}
