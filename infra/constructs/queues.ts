import { Duration } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { topology } from '../topology';

/**
 * AWS advises a queue's visibility timeout of at least six times the timeout of the function
 * that consumes it, so that a message is not redelivered while a (retried) batch still runs.
 */
export const VISIBILITY_TO_FUNCTION_TIMEOUT = 6;

/**
 * The delivery queues: `work` (first attempts, in `workShards`), `retry` (later attempts, each with its own
 * delay) and the dead-letter queue both redrive to after `maxReceiveCount` receives. All three are
 * encrypted with SQS managed keys (SSE-SQS: no KMS key to pay for or to grant, and EventBridge and
 * Lambda can still write to them) and refuse requests that are not over TLS.
 *
 * Names are left to CloudFormation (the topology's names are the local stack's), so two stacks can
 * share an account and region; the functions get the URLs through their environment.
 */
export class DeliveryQueues extends Construct {
  /** Shard 0 of the work queue: the DLQ's redrive target (the stack output `WorkQueueUrl`). */
  readonly work: sqs.Queue;
  /** Every shard of the work queue, in shard order (`work` first); see topology.delivery.workShards. */
  readonly workShards: readonly sqs.Queue[];
  readonly retry: sqs.Queue;
  /** The isolation lane: attempts of throttled, paused, rate-limited and slow endpoints. */
  readonly isolated: sqs.Queue;
  readonly deadLetter: sqs.Queue;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const q = topology.queues;
    const minVisibilityS = VISIBILITY_TO_FUNCTION_TIMEOUT * topology.delivery.functionTimeoutS;
    for (const [name, spec] of [
      ['work', q.work],
      ['retry', q.retry],
      ['isolated', q.isolated],
    ] as const) {
      if (spec.visibilityTimeoutS < minVisibilityS) {
        throw new Error(
          `topology.queues.${name}.visibilityTimeoutS is ${spec.visibilityTimeoutS} s; it must be at least ` +
            `${VISIBILITY_TO_FUNCTION_TIMEOUT} x the delivery function timeout (${minVisibilityS} s)`,
        );
      }
    }

    this.deadLetter = new sqs.Queue(this, 'DeadLetter', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(q.dlq.retentionDays),
    });

    const deliveryQueue = (queueId: string, spec: typeof q.work | typeof q.retry | typeof q.isolated) =>
      new sqs.Queue(this, queueId, {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutS),
        retentionPeriod: Duration.days(spec.retentionDays),
        deadLetterQueue: { queue: this.deadLetter, maxReceiveCount: spec.maxReceiveCount },
      });
    this.work = deliveryQueue('Work', q.work);
    // Shard 0 keeps the work queue's id, so a stack deployed before sharding keeps its queue.
    this.workShards = [
      this.work,
      ...Array.from({ length: topology.delivery.workShards - 1 }, (_, i) => deliveryQueue(`WorkShard${i + 1}`, q.work)),
    ];
    this.retry = deliveryQueue('Retry', q.retry);
    this.isolated = deliveryQueue('Isolated', q.isolated);
  }

  /**
   * SendMessage (alone: the code never calls GetQueueAttributes or GetQueueUrl, test/iam) on
   * where first attempts go (SqsScheduler.now): every work queue shard and the isolation lane.
   */
  grantSendFirstAttempts(grantee: iam.IGrantable): void {
    for (const q of [...this.workShards, this.isolated]) q.grant(grantee, 'sqs:SendMessage');
  }
}
