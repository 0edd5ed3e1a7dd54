/** SQS: the work queue (first attempts), the retry queue (delayed attempts) and the DLQ. */
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import type { DeadLetterQueue, RetryQueue } from '../core/deliver';
import type { WorkQueue } from '../core/ingest';
import type { DeliveryMessage } from '../core/messages';

/** SQS caps a message's DelaySeconds at 15 minutes; longer waits are carried in hops. */
export const MAX_SQS_DELAY_S = 900;

/** Sends messages in batches of ten, re-sending any entry SQS reports as failed. */
async function sendAll(sqs: SQSClient, queueUrl: string, messages: DeliveryMessage[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    let entries = messages.slice(i, i + 10).map((m) => ({
      Id: randomUUID(),
      MessageBody: JSON.stringify(m),
    }));
    for (let round = 0; entries.length > 0; round++) {
      if (round > 4) throw new Error(`SQS kept failing ${entries.length} message(s) to ${queueUrl}`);
      if (round > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** round));
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const failed = new Set((out.Failed ?? []).map((f) => f.Id));
      entries = entries.filter((e) => failed.has(e.Id));
    }
  }
}

export class SqsWorkQueue implements WorkQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  enqueue(messages: DeliveryMessage[]): Promise<void> {
    return sendAll(this.sqs, this.queueUrl, messages);
  }
}

export class SqsRetryQueue implements RetryQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async schedule(message: DeliveryMessage, delayS: number): Promise<void> {
    const DelaySeconds = Math.max(0, Math.min(MAX_SQS_DELAY_S, Math.ceil(delayS)));
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message), DelaySeconds }),
    );
  }
}

export class SqsDeadLetterQueue implements DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: DeliveryMessage): Promise<void> {
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }));
  }
}
