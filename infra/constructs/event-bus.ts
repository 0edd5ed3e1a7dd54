import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DeliveryQueues } from './queues';
import { ENV, topology } from '../topology';
import { HookrelayFunction } from './hookrelay-function';
import { VISIBILITY_TO_FUNCTION_TIMEOUT } from './queues';
import type { WebhookStore } from './store';

export interface IngestBusProps {
  readonly entry: string;
  readonly store: WebhookStore;
  /** Where first attempts go: the app's work queue shard, or the isolation lane. */
  readonly queues: Pick<DeliveryQueues, 'grantSendFirstAttempts'>;
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** Matches every event whose source does not start with `aws.`: producers' events, not AWS's. */
export const INGEST_EVENT_PATTERN: events.EventPattern = {
  source: events.Match.anythingButPrefix('aws.'),
};

/** EventBridge's own retries of a target it cannot reach, before it dead-letters the event. */
export const RULE_TARGET_RETRY = { attempts: 185, maxEventAgeHours: 24 } as const;

/**
 * The producers' way in besides HTTP: a custom event bus whose rule puts each producer event
 * (`DetailType` = event type, `Detail` = `{appId, data, id?}`) on the ingest queue, which the
 * ingest function drains in batches. Nothing the bus accepted is dropped:
 *
 * - EventBridge retries putting an event on the queue for up to a day, then dead-letters it to
 *   the ingest DLQ (SQS is rarely unreachable: this is for a queue policy broken by hand, say);
 * - the queue keeps each event until the function has ingested it, or dead-lettered it itself
 *   with its reason: at once when it is refused (validation, unknown app, oversized), after
 *   about a day of retries with a growing delay when it keeps failing for another reason;
 * - the queue's redrive policy moves what the function could not even finish (a crash, a
 *   timeout) to the same DLQ after `maxReceiveCount` receives.
 *
 * Each message's body is the EventBridge event, in the queue and in the DLQ alike, so that
 * `hookrelay dlq redrive` moves failed ingests back to the ingest queue, unchanged.
 */
export class IngestBus extends Construct {
  readonly bus: events.EventBus;
  readonly rule: events.Rule;
  readonly queue: sqs.Queue;
  readonly deadLetter: sqs.Queue;
  readonly function: HookrelayFunction;

  constructor(scope: Construct, id: string, props: IngestBusProps) {
    super(scope, id);
    const q = topology.queues;
    const ingest = topology.ingest;
    const minVisibilityS = VISIBILITY_TO_FUNCTION_TIMEOUT * ingest.functionTimeoutS;
    if (q.ingest.visibilityTimeoutS < minVisibilityS) {
      throw new Error(
        `topology.queues.ingest.visibilityTimeoutS is ${q.ingest.visibilityTimeoutS} s; it must be at least ` +
          `${VISIBILITY_TO_FUNCTION_TIMEOUT} x the ingest function timeout (${minVisibilityS} s)`,
      );
    }
    if (q.ingest.maxReceiveCount <= ingest.retry.attempts) {
      throw new Error(
        `topology.queues.ingest.maxReceiveCount (${q.ingest.maxReceiveCount}) must exceed topology.ingest.retry.attempts ` +
          `(${ingest.retry.attempts}), so that the function dead-letters with a reason before the redrive policy does`,
      );
    }

    this.bus = new events.EventBus(this, 'Bus', { description: 'hookrelay: producers put events here' });

    this.deadLetter = new sqs.Queue(this, 'DeadLetter', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(q.ingestDlq.retentionDays),
      maxMessageSizeBytes: q.ingestDlq.maxMessageBytes,
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(q.ingest.visibilityTimeoutS),
      retentionPeriod: Duration.days(q.ingest.retentionDays),
      maxMessageSizeBytes: q.ingest.maxMessageBytes,
      deadLetterQueue: { queue: this.deadLetter, maxReceiveCount: q.ingest.maxReceiveCount },
    });

    this.function = new HookrelayFunction(this, 'Ingest', {
      handler: 'ingest',
      entry: props.entry,
      description: 'hookrelay: ingests the events put on the bus, dead-letters those it must refuse',
      timeout: Duration.seconds(ingest.functionTimeoutS),
      memorySize: 256,
      environment: {
        ...props.environment,
        [ENV.ingestQueueUrl]: this.queue.queueUrl,
        [ENV.ingestDlqUrl]: this.deadLetter.queueUrl,
      },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const fn = this.function.fn;
    fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: ingest.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: ingest.maxConcurrency,
      }),
    );
    // The accept path's operations (intake/ingest.ts over intake/dynamo-event-store.ts).
    props.store.grantReadWriteData(
      fn,
      ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'],
      { queryIndexes: false },
    );
    // SendMessage alone: the code never calls grantSendMessages' GetQueueAttributes or GetQueueUrl (test/iam).
    props.queues.grantSendFirstAttempts(fn);
    this.deadLetter.grant(fn, 'sqs:SendMessage');

    this.rule = new events.Rule(this, 'Rule', {
      description: 'hookrelay: every producer event (any source not prefixed aws.) to the ingest queue',
      eventBus: this.bus,
      eventPattern: INGEST_EVENT_PATTERN,
      targets: [
        new targets.SqsQueue(this.queue, {
          deadLetterQueue: this.deadLetter,
          retryAttempts: RULE_TARGET_RETRY.attempts,
          maxEventAge: Duration.hours(RULE_TARGET_RETRY.maxEventAgeHours),
        }),
      ],
    });
  }
}
