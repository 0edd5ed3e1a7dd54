/**
 * SQS: the work queue (attempts to run now), the retry queue (attempts at a later time) and the
 * DLQ. SQS delays a message by at most 15 minutes (the lifecycle's SCHEDULER_HORIZON_S, which is
 * set to that limit); a later one arrives early with its `notBefore`, and the worker hands it back
 * for the rest (a hop).
 */
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { sendInBatches } from '../shared/batches';
import { sendOrdered } from '../ordering/sqs-ordered-lane';
import { workShardOf } from './work-shards';
import { SCHEDULER_HORIZON_S, type DeadLetterQueue, type DeliveryMessage, type DeliveryScheduler } from './lifecycle';

/** Sends messages ten a request, re-sending any entry SQS reports as failed. */
function sendAll(sqs: SQSClient, queueUrl: string, messages: DeliveryMessage[]): Promise<void> {
  const entries = messages.map((m) => ({ Id: randomUUID(), MessageBody: JSON.stringify(m) }));
  return sendInBatches(entries, { size: 10, rounds: 5, backoffMs: 50, what: `SQS ${queueUrl}` }, async (chunk) => {
    const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: chunk }));
    const failed = new Set((out.Failed ?? []).map((f) => f.Id));
    return chunk.filter((e) => failed.has(e.Id));
  });
}

/** The delay SQS is asked for: whole seconds, rounded up, within its limit. */
export function delaySeconds(at: Date, now: Date): number {
  return Math.max(0, Math.min(SCHEDULER_HORIZON_S, Math.ceil((at.getTime() - now.getTime()) / 1000)));
}

/**
 * Sends attempts where they run: a strict endpoint's (`order` set) to the ordered lane, in the
 * order given and at once (its lane holds it until the table's due time: a FIFO queue takes no
 * per-message delay), every other to its app's shard of the work queue (`work`, in shard order),
 * or to the retry queue with its delay.
 */
export class SqsScheduler implements DeliveryScheduler {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queues: { work: readonly string[]; retry: string; isolated: string; ordered?: string },
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private ordered(messages: DeliveryMessage[]): Promise<void> {
    if (!this.queues.ordered) {
      throw new Error('a strict endpoint is sent to, but no ordered queue is configured (HOOKRELAY_ORDERED_QUEUE_URL)');
    }
    return sendOrdered(this.sqs, this.queues.ordered, messages);
  }

  /** First attempts: the app's work shard, the ordered lane (strict endpoints), or the isolation lane. */
  async now(messages: DeliveryMessage[]): Promise<void> {
    const ordered = messages.filter((m) => m.order);
    // The rest, by queue: the isolation lane, or the app's work shard (hashed once per app).
    const shardOf = new Map<string, string>();
    const byQueue = new Map<string, DeliveryMessage[]>();
    for (const m of messages) {
      if (m.order) continue;
      let url = m.lane === 'isolated' ? this.queues.isolated : shardOf.get(m.appId);
      if (url === undefined) {
        url = this.queues.work[workShardOf(m.appId, this.queues.work.length)];
        if (url === undefined) throw new Error('no work queue is configured');
        shardOf.set(m.appId, url);
      }
      const queued = byQueue.get(url);
      if (queued) queued.push(m);
      else byQueue.set(url, [m]);
    }
    await Promise.all([
      ...[...byQueue].map(([url, queued]) => sendAll(this.sqs, url, queued)),
      ordered.length > 0 ? this.ordered(ordered) : undefined,
    ]);
  }

  /** A later attempt: the retry queue, or the isolation lane, with the delay SQS allows. */
  async at(message: DeliveryMessage, at: Date): Promise<void> {
    if (message.order) return this.ordered([message]);
    const body: DeliveryMessage = { ...message, notBefore: at.getTime() };
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: message.lane === 'isolated' ? this.queues.isolated : this.queues.retry,
        MessageBody: JSON.stringify(body),
        DelaySeconds: delaySeconds(at, this.clock()),
      }),
    );
  }
}

/**
 * Sends what concurrent callers hand over within `windowMs` of each other in shared requests of
 * ten, instead of a request each. For the bus's ingest, whose invocations take ten events at once
 * and ingest them concurrently: a request per event becomes about one per invocation. Each caller
 * resolves once its own messages are sent (or rejects with the failure), so it still reports its
 * event done only after its first attempts are on their way.
 */
export class CoalescingScheduler implements DeliveryScheduler {
  private pending: Array<{ messages: DeliveryMessage[]; done: (err?: unknown) => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inner: DeliveryScheduler,
    private readonly windowMs: number,
  ) {}

  now(messages: DeliveryMessage[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ messages, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.timer ??= setTimeout(() => void this.flush(), this.windowMs);
    });
  }

  at(message: DeliveryMessage, at: Date): Promise<void> {
    return this.inner.at(message, at);
  }

  private async flush(): Promise<void> {
    const callers = this.pending;
    this.pending = [];
    this.timer = undefined;
    try {
      await this.inner.now(callers.flatMap((c) => c.messages));
      for (const c of callers) c.done();
    } catch (err) {
      for (const c of callers) c.done(err ?? new Error('send failed'));
    }
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
