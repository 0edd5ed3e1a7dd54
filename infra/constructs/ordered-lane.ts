import { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { topology } from '../topology';
import { VISIBILITY_TO_FUNCTION_TIMEOUT } from './queues';

/**
 * The ordered lane (docs/ordering.md): a FIFO queue whose message groups are strict endpoints'
 * keys (`endpointId/orderingKey`), consumed by the delivery function through an event source
 * mapping of its own.
 *
 * - High-throughput FIFO: deduplication and the throughput quota are per message group, so
 *   10,000 keys flow side by side, each in order; a re-send of the same attempt within 5 minutes
 *   (a replayed request, a reconcile) is dropped by SQS.
 * - A key's head waits for its retry by holding its message (ChangeMessageVisibility, which the
 *   event source's consume grant includes): the group stays blocked, its later events wait.
 * - Its dead-letter queue (FIFO, as SQS requires) is a backstop for a message nothing can handle:
 *   maxReceiveCount is SQS's most, since a held head is received once per attempt. Deliveries
 *   that finally fail go to the delivery DLQ, with their reason, like every other.
 * - Retention is SQS's most (14 days), past the retry schedule and any pause.
 */
export class OrderedLane extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetter: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const q = topology.queues;
    const minVisibilityS = VISIBILITY_TO_FUNCTION_TIMEOUT * topology.delivery.functionTimeoutS;
    if (q.ordered.visibilityTimeoutS < minVisibilityS) {
      throw new Error(
        `topology.queues.ordered.visibilityTimeoutS is ${q.ordered.visibilityTimeoutS} s; it must be at least ` +
          `${VISIBILITY_TO_FUNCTION_TIMEOUT} x the delivery function timeout (${minVisibilityS} s)`,
      );
    }
    this.deadLetter = new sqs.Queue(this, 'DeadLetter', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(q.orderedDlq.retentionDays),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: true,
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(q.ordered.visibilityTimeoutS),
      retentionPeriod: Duration.days(q.ordered.retentionDays),
      deadLetterQueue: { queue: this.deadLetter, maxReceiveCount: q.ordered.maxReceiveCount },
    });
  }

  /** The delivery function consumes the lane: batches of groups, partial failures reported. */
  feed(worker: lambda.IFunction, maxConcurrency: number): void {
    worker.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: topology.delivery.batchSize,
        reportBatchItemFailures: true,
        maxConcurrency,
      }),
    );
    // A standard lane forwards a strict endpoint's message here (a DLQ redrive, an old message).
    this.queue.grant(worker, 'sqs:SendMessage');
  }

  /** Who sends strict deliveries: ingest, resend and recover, housekeeping. */
  grantSend(grantee: iam.IGrantable): void {
    this.queue.grant(grantee, 'sqs:SendMessage');
  }

  /** The skip route: it makes a held head visible again so the key moves on at once. */
  grantRelease(grantee: iam.IGrantable): void {
    this.queue.grant(grantee, 'sqs:ChangeMessageVisibility');
  }
}
