import { Duration } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type { RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { topology } from '../topology';
import { HookrelayFunction } from './hookrelay-function';
import type { WebhookStore } from './store';
import type { DeliveryQueues } from './queues';

export interface DeliveryWorkerProps {
  readonly entry: string;
  readonly store: WebhookStore;
  readonly queues: DeliveryQueues;
  readonly environment: Record<string, string>;
  /** Concurrent invocations per queue (the event source's maximumConcurrency, 2 to 1000). */
  readonly maxConcurrency: number;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The delivery function, fed by both the work and the retry queue. It reports per-message
 * failures (`batchItemFailures`), so one bad message does not send its whole batch back; a
 * message that keeps failing reaches the DLQ through the queue's redrive policy.
 */
export class DeliveryWorker extends Construct {
  readonly function: HookrelayFunction;

  constructor(scope: Construct, id: string, props: DeliveryWorkerProps) {
    super(scope, id);
    const d = topology.delivery;

    this.function = new HookrelayFunction(this, 'Delivery', {
      handler: 'delivery',
      entry: props.entry,
      description: 'hookrelay: signs and POSTs each delivery, schedules retries, dead-letters the exhausted',
      timeout: Duration.seconds(d.functionTimeoutS),
      // A batch is sent concurrently: memory also buys CPU for TLS handshakes and HMACs.
      memorySize: 512,
      environment: props.environment,
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const fn = this.function.fn;

    // The isolation lane has a small concurrency of its own: rates are shared out by it
    // (functions/flow/gate.ts), and a misbehaving endpoint's work never takes the shared slots.
    // Each shard of the work queue has its own slots (topology.delivery.workShards).
    for (const [queue, maxConcurrency] of [
      ...props.queues.workShards.map((shard) => [shard, props.maxConcurrency] as const),
      [props.queues.retry, props.maxConcurrency],
      [props.queues.isolated, d.isolatedConcurrency],
    ] as const) {
      fn.addEventSource(
        new SqsEventSource(queue, {
          batchSize: d.batchSize,
          maxBatchingWindow: Duration.seconds(d.maxBatchingWindowS),
          reportBatchItemFailures: true,
          maxConcurrency,
        }),
      );
    }

    // What the delivery path reads and writes (delivery/dynamo-delivery-store.ts): no query.
    // DeleteItem: a strict endpoint's held key goes when its head finishes (functions/ordering).
    props.store.grantReadWriteData(
      fn,
      ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
      {
        queryIndexes: false,
      },
    );
    // SendMessage alone: the code never calls grantSendMessages' GetQueueAttributes or GetQueueUrl (test/iam).
    props.queues.retry.grant(fn, 'sqs:SendMessage');
    props.queues.isolated.grant(fn, 'sqs:SendMessage');
    props.queues.deadLetter.grant(fn, 'sqs:SendMessage');
  }
}
