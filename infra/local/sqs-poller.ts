/**
 * The SQS event source mapping, emulated: pollers receive from a queue, hand the batch to the
 * delivery function as a real SQSEvent, and delete what succeeded (ReportBatchItemFailures).
 *
 * Redrive to the DLQ is the emulator's: local-aws-sqs applies the queue's RedrivePolicy itself
 * (checked with a probe: a message received maxReceiveCount times moves to the dead-letter queue
 * when its visibility timeout next expires, with DeadLetterQueueSourceArn set), so the poller,
 * like Lambda, never moves messages; it only leaves failed ones to reappear.
 *
 * Latency without busy polling:
 * - The emulator's ReceiveMessage only returns early once it holds MaxNumberOfMessages; otherwise
 *   it waits WaitTimeSeconds + 40 ms (a long poll for 10 that finds 1 message costs a second),
 *   where AWS returns as soon as anything is there. So a poller first asks how many messages are
 *   visible (GetQueueAttributes) and receives at most that many, which the emulator answers on
 *   its next 10 ms tick.
 * - With nothing visible, pollers sleep. The emulator reports when its queue will next have a
 *   message (a send, its DelaySeconds, a visibility change: Emulators.onQueueActivity), and a
 *   batch left to fail reappears after the visibility timeout, which the poller knows; either
 *   wakes one sleeper at that moment. One poller per queue also looks every `idlePollMs` as a
 *   safety net (a DLQ redrive task moves messages without announcing them).
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from 'aws-lambda';
import type { Log } from './log';

/** A queue's messages become visible at `visibleAt` (a send, its delay, a visibility change): what wakes a poller. */
export interface QueueActivity {
  queueName: string | undefined;
  visibleAt: number;
}
import { LOCAL_REGION } from './lambda';

export interface SqsPollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  /** Invokes the delivery function (Context and timeout are the caller's business). */
  invoke: (event: SQSEvent) => Promise<SQSBatchResponse | void>;
  log: Log;
  /** Most records per invocation (the mapping's BatchSize); default 10. */
  batchSize?: number;
  /** The mapping's MaximumBatchingWindowInSeconds: wait this long for a fuller batch; default 0. */
  batchingWindowS?: number;
  /**
   * The mapping's FunctionResponseTypes includes ReportBatchItemFailures (default true): the
   * function's batchItemFailures are honoured. Without it, Lambda ignores the response: a
   * batch succeeds or fails whole.
   */
  reportBatchItemFailures?: boolean;
  /** Pollers for this queue, each with at most one batch in flight; default 2. */
  concurrency?: number;
  /** Safety-net look at an idle queue; default 5000 ms. */
  idlePollMs?: number;
  /** When the queue will next have messages; see Emulators.onQueueActivity. */
  onActivity?: (listener: (activity: QueueActivity) => void) => () => void;
}

export interface SqsPoller {
  /** Stops receiving and resolves once every batch in flight is finished and deleted. */
  stop(): Promise<void>;
}

const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'SentTimestamp',
  'SenderId',
  'ApproximateFirstReceiveTimestamp',
  'AWSTraceHeader',
  'SequenceNumber',
  'MessageGroupId',
  'MessageDeduplicationId',
  'DeadLetterQueueSourceArn',
] as const;

export function startSqsPoller(opts: SqsPollerOptions): SqsPoller {
  const batchSize = opts.batchSize ?? 10;
  const windowMs = (opts.batchingWindowS ?? 0) * 1000;
  const partial = opts.reportBatchItemFailures !== false;
  const concurrency = opts.concurrency ?? 2;
  const idlePollMs = opts.idlePollMs ?? 5_000;
  const queueName = opts.queueUrl.slice(opts.queueUrl.lastIndexOf('/') + 1);
  // A FIFO queue is answered by fifo-queues.ts, whose receive returns at once with what it may
  // hand out, as AWS's does: no depth to ask first (and its depth counts messages of blocked
  // groups, which a receive does not return).
  const fifo = queueName.endsWith('.fifo');

  let stopping = false;
  // Bumped on every wake-up, so a signal that lands between "queue looks empty" and going to
  // sleep is not lost: the would-be sleeper sees the generation moved and looks again instead.
  let generation = 0;
  const sleepers: (() => void)[] = [];
  const wakeOne = () => {
    generation++;
    sleepers.shift()?.();
  };
  const wakeAll = () => {
    generation++;
    for (const wake of sleepers.splice(0)) wake();
  };

  // Wake-ups come by timer, never inline: even an undelayed message only becomes receivable on
  // the emulator's own zero-delay timer, set when it stored the message. A timer of ours, set
  // later and never shorter, fires after it. Far-off wake-ups share one timer per 20 ms slot.
  const timers = new Map<number, NodeJS.Timeout>();
  const wakeAt = (visibleAt: number) => {
    const delay = Math.max(1, visibleAt - Date.now() + 2);
    const slot = delay < 50 ? -visibleAt : Math.ceil(visibleAt / 20);
    if (timers.has(slot)) return;
    const timer = setTimeout(
      () => {
        timers.delete(slot);
        wakeOne();
      },
      slot < 0 ? delay : slot * 20 - Date.now() + 2,
    );
    timers.set(slot, timer);
  };
  const unsubscribe = opts.onActivity?.((a) => {
    if (a.queueName === undefined || a.queueName === queueName) wakeAt(a.visibleAt);
  });

  function sleep(seen: number, ms: number): Promise<void> {
    if (stopping || generation !== seen) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = ms === Infinity ? undefined : setTimeout(wake, ms);
      function wake() {
        clearTimeout(timer);
        const i = sleepers.indexOf(wake);
        if (i !== -1) sleepers.splice(i, 1);
        resolve();
      }
      sleepers.push(wake);
    });
  }

  let visibilityTimeoutMs: number | undefined;
  /** A batch left (in part) to fail: its messages come back when their visibility times out. */
  async function expectReturn(receivedAt: number): Promise<void> {
    if (visibilityTimeoutMs === undefined) {
      const { Attributes } = await opts.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: opts.queueUrl, AttributeNames: ['VisibilityTimeout'] }),
      );
      visibilityTimeoutMs = Number(Attributes?.VisibilityTimeout ?? 30) * 1000;
    }
    wakeAt(receivedAt + visibilityTimeoutMs);
  }

  async function visibleCount(): Promise<number> {
    const { Attributes: a = {} } = await opts.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: opts.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    // The emulator's ApproximateNumberOfMessages also counts in-flight messages (not delayed ones).
    return Math.max(
      0,
      Number(a.ApproximateNumberOfMessages ?? 0) - Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    );
  }

  async function receive(max: number): Promise<Message[]> {
    const { Messages = [] } = await opts.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: opts.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: 0,
        // The emulator ignores MessageSystemAttributeNames; 'All' here is what it honours.
        AttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages;
  }

  async function processBatch(messages: Message[], receivedAt: number): Promise<void> {
    const records = messages.map((m) => toRecord(m, opts.queueArn));
    let failed: Set<string> | 'all';
    try {
      const response = await opts.invoke({ Records: records });
      failed = partial ? failedIds(response, records) : new Set();
      if (failed === 'all') {
        opts.log.error(`delivery on ${queueName}: malformed batchItemFailures; the whole batch will reappear`);
      }
    } catch (err) {
      opts.log.error(`delivery on ${queueName}: batch of ${records.length} failed; it will reappear`, err);
      failed = 'all';
    }
    if (failed !== 'all') await deleteRecords(records.filter((r) => !failed.has(r.messageId)));
    if (failed === 'all' || failed.size > 0) await expectReturn(receivedAt);
  }

  async function deleteRecords(records: SQSRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 10) {
      const chunk = records.slice(i, i + 10);
      const { Failed = [] } = await opts.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: opts.queueUrl,
          Entries: chunk.map((r, j) => ({ Id: `m${j}`, ReceiptHandle: r.receiptHandle })),
        }),
      );
      for (const f of Failed) opts.log.warn(`delete on ${queueName} failed: ${f.Code ?? ''} ${f.Message ?? ''}`);
    }
  }

  /** Worker 0 keeps the safety-net timer; the others sleep until woken. */
  async function worker(index: number): Promise<void> {
    const idleMs = index === 0 ? idlePollMs : Infinity;
    while (!stopping) {
      const seen = generation;
      try {
        let visible = fifo ? batchSize : await visibleCount();
        // The batching window: a batch short of full waits (once) for more before it goes.
        if (!fifo && windowMs > 0 && visible > 0 && visible < batchSize) {
          await new Promise((r) => setTimeout(r, windowMs));
          visible = await visibleCount();
        }
        const messages = visible === 0 ? [] : await receive(Math.min(visible, batchSize));
        // Taken after the receive: no earlier than the emulator started the visibility timeout.
        const receivedAt = Date.now();
        // Nothing, or another poller took it first: sleep until woken.
        if (messages.length === 0) {
          await sleep(seen, idleMs);
          continue;
        }
        // More than this batch: get a sleeping peer going on the rest.
        if (fifo ? messages.length === batchSize : visible > messages.length) wakeOne();
        await processBatch(messages, receivedAt);
      } catch (err) {
        if (stopping) break;
        opts.log.error(`poller on ${queueName}`, err);
        await sleep(seen, 1_000);
      }
    }
  }

  const workers = Array.from({ length: concurrency }, (_, i) => worker(i));
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        unsubscribe?.();
        for (const timer of timers.values()) clearTimeout(timer);
        timers.clear();
        wakeAll();
        await Promise.all(workers);
      })();
      return stopped;
    },
  };
}

/** A received message in the shape Lambda gives the function. */
export function toRecord(m: Message, queueArn: string): SQSRecord {
  const attributes: Record<string, string> = {};
  for (const name of SYSTEM_ATTRIBUTES) {
    const value = m.Attributes?.[name];
    if (value !== undefined) attributes[name] = value;
  }
  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, a] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      stringValue: a.StringValue,
      binaryValue: a.BinaryValue === undefined ? undefined : Buffer.from(a.BinaryValue).toString('base64'),
      stringListValues: [],
      binaryListValues: [],
      dataType: a.DataType ?? 'String',
    };
  }
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: attributes as unknown as SQSRecord['attributes'],
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    ...(m.MD5OfMessageAttributes ? { md5OfMessageAttributes: m.MD5OfMessageAttributes } : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: LOCAL_REGION,
  };
}

/**
 * Lambda's reading of a partial batch response: nothing, or an empty or null list, is complete
 * success; an item without a valid id of this batch makes the whole batch a failure.
 */
export function failedIds(response: unknown, records: SQSRecord[]): Set<string> | 'all' {
  if (response === undefined || response === null) return new Set();
  if (typeof response !== 'object') return 'all';
  const list = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return new Set();
  if (!Array.isArray(list)) return 'all';
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const item of list) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}
