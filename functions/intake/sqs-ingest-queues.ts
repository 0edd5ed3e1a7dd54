/**
 * SQS on the EventBridge path: the ingest queue (the bus rule's target, drained by the ingest
 * function) and its dead-letter queue. A dead-lettered event keeps its body (the EventBridge
 * event) so that a redrive re-ingests it as it came; why it is there travels in message
 * attributes, which SQS keeps through a redrive move task.
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetteredEvent, IngestDeadLetterQueue } from './bus-intake';

/** Message attributes of a dead-lettered event (the CLI reads them back). */
export const INGEST_DLQ_ATTRIBUTES = {
  kind: 'hookrelay.kind',
  code: 'hookrelay.code',
  reason: 'hookrelay.reason',
  receives: 'hookrelay.receives',
} as const;

/** SQS's longest visibility timeout: 12 hours. */
const MAX_VISIBILITY_S = 43_200;
/** A message attribute value is part of the message's size: keep reasons readable, not huge. */
const MAX_REASON_CHARS = 2_000;

export class SqsIngestDeadLetterQueue implements IngestDeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: DeadLetteredEvent): Promise<void> {
    const text = (value: string) => ({ DataType: 'String', StringValue: value });
    const A = INGEST_DLQ_ATTRIBUTES;
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: message.body,
        MessageAttributes: {
          [A.kind]: text('ingest'),
          [A.code]: text(message.code),
          [A.reason]: text(message.reason.slice(0, MAX_REASON_CHARS)),
          [A.receives]: { DataType: 'Number', StringValue: String(message.receives) },
        },
      }),
    );
  }
}

export class SqsIngestQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  /** Hides a received message for `delayS` (at most SQS's 12 hours) before it is received again. */
  async retryAfter(receiptHandle: string, delayS: number): Promise<void> {
    const VisibilityTimeout = Math.max(0, Math.min(MAX_VISIBILITY_S, Math.ceil(delayS)));
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout }),
    );
  }
}
