/**
 * SQS for the ordered lane: sending strict deliveries to the FIFO queue in order, changing the
 * visibility of held messages, and the skip route's release of a key's head.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { DeliveryMessage } from '../delivery/lifecycle';
import type { LaneQueue } from './ordered-lane';
import { deduplicationIdOf, messageGroupOf } from './ordering';

/**
 * Sends strict deliveries' messages to the FIFO queue, in the order given, ten a request. A
 * request whose entries partly fail is an error: re-sending only the failed ones would put them
 * behind later messages of their key, so the caller retries the whole send (the deduplication
 * ids make the entries that did land a no-op for 5 minutes).
 */
export async function sendOrdered(sqs: SQSClient, queueUrl: string, messages: DeliveryMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    const out = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((m, j) => ({
          Id: `m${j}`,
          MessageBody: JSON.stringify(m),
          MessageGroupId: messageGroupOf(m.endpointId, m.order?.key),
          MessageDeduplicationId: deduplicationIdOf(m),
        })),
      }),
    );
    const failed = out.Failed ?? [];
    if (failed.length > 0) {
      const f = failed[0]!;
      throw new Error(
        `SQS ${queueUrl}: ${failed.length} of ${chunk.length} ordered messages refused (${f.Code ?? ''} ${f.Message ?? ''})`,
      );
    }
  }
}

export class SqsLaneQueue implements LaneQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly dlqUrl: string,
    private readonly log: (message: string, detail?: unknown) => void = () => {},
  ) {}

  async changeVisibility(changes: { receiptHandle: string; seconds: number }[]): Promise<void> {
    for (let i = 0; i < changes.length; i += 10) {
      const chunk = changes.slice(i, i + 10);
      try {
        const out = await this.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: chunk.map((c, j) => ({
              Id: `v${j}`,
              ReceiptHandle: c.receiptHandle,
              VisibilityTimeout: c.seconds,
            })),
          }),
        );
        // A refused change leaves the message to the queue's visibility timeout: later, not lost.
        for (const f of out.Failed ?? []) this.log('visibility change refused', { code: f.Code, message: f.Message });
      } catch (err) {
        this.log('visibility change failed', err);
      }
    }
  }

  async deadLetterRaw(body: string, reason: string): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.dlqUrl,
        MessageBody: body,
        MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 1000) } },
      }),
    );
  }

  /** Makes a held head visible again now (the skip route); false when its receive has moved on. */
  async release(receiptHandle: string): Promise<boolean> {
    try {
      await this.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: this.queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
      return true;
    } catch {
      return false;
    }
  }
}
