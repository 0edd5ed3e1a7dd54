/**
 * SQS FIFO queues, emulated as AWS runs them: what local-aws-sqs does not do.
 *
 * local-aws-sqs 2.0.2 creates FIFO queues and checks their send parameters, but its receive
 * ignores message groups: it hands out a group's later messages while an earlier one is in
 * flight (the very thing a FIFO queue exists to prevent), it deduplicates only against messages
 * still queued (AWS keeps a deduplication id for 5 minutes, deleted or not), and its
 * ChangeMessageVisibility counts as a receive. Ordered delivery (functions/ordering) rests on
 * those semantics, so the local stack answers every request for a `.fifo` queue here instead:
 *
 * - a receive returns, oldest group first, the leading messages of groups that have no message in
 *   flight, in order within each group; a group with one in flight returns nothing;
 * - SendMessage(Batch) needs a MessageGroupId and a MessageDeduplicationId (or content-based
 *   deduplication); a duplicate within 5 minutes is accepted and not queued again (its original
 *   id answered); per-message DelaySeconds is refused, as on AWS;
 * - ChangeMessageVisibility needs the current receipt handle of a message in flight, and may not
 *   take a message past 12 hours of visibility from its receive;
 * - a message received `maxReceiveCount` times moves to the dead-letter queue (a FIFO queue too)
 *   instead of being received again, keeping its group and deduplication ids;
 * - DeleteMessage with the receipt handle of an earlier receive fails (the handle has expired).
 *
 * The protocol is AWS JSON 1.0, as @aws-sdk/client-sqs speaks it: the action in X-Amz-Target, the
 * input as JSON, errors as `{__type, message}` with `x-amzn-query-error`.
 */
import { createHash, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { QueueActivity } from './sqs-poller';

type Input = Record<string, unknown>;

/** An answer to one request: the HTTP status and the JSON body. */
export interface FifoAnswer {
  status: number;
  body: unknown;
  /** For an error: the `x-amzn-query-error` header (`Code;Sender`). */
  queryError?: string;
}

const DEDUP_WINDOW_MS = 5 * 60_000;
/** AWS's limit on a message's visibility, counted from its receive. */
const MAX_VISIBILITY_S = 12 * 3600;
const ID_PATTERN = /^[a-zA-Z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

class SqsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly type = `com.amazonaws.sqs#${code}`,
  ) {
    super(message);
  }
}
const invalid = (message: string) =>
  new SqsError('InvalidParameterValue', message, 'com.amazon.coral.service#InvalidParameterValueException');
const missing = (name: string) =>
  new SqsError(
    'MissingParameter',
    `The request must contain the parameter ${name}.`,
    'com.amazon.coral.service#MissingRequiredParameterException',
  );

interface Message {
  id: string;
  body: string;
  md5: string;
  groupId: string;
  dedupId: string;
  sequence: string;
  sentAt: number;
  receiveCount: number;
  firstReceiveAt?: number;
  /** Set while in flight: the current receipt handle, since when, and until when. */
  receivedAt?: number;
  invisibleUntil: number;
  receiptHandle?: string;
  messageAttributes?: Record<string, unknown>;
  /** Where a dead-lettered message came from. */
  deadLetterSourceArn?: string;
}

interface Queue {
  name: string;
  arn: string;
  attributes: Record<string, string>;
  messages: Message[];
  /** Deduplication ids seen in the last 5 minutes: key -> when, and the message id answered. */
  dedup: Map<string, { at: number; messageId: string; sequence: string }>;
  sequence: bigint;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const nameOf = (url: unknown) => (typeof url === 'string' ? url.slice(url.lastIndexOf('/') + 1) : '');

/** Whether a request names a FIFO queue (by its URL or, for CreateQueue and GetQueueUrl, its name). */
export function isFifoRequest(input: Input): boolean {
  const name = typeof input.QueueName === 'string' ? input.QueueName : nameOf(input.QueueUrl);
  return name.endsWith('.fifo');
}

export interface FifoQueues {
  /** Answers one SQS JSON action for a FIFO queue. */
  handle(action: string, input: Input): Promise<FifoAnswer>;
  /** When a queue will next have a message to hand out (a send, a delete, a visibility change). */
  onActivity(listener: (a: QueueActivity) => void): () => void;
  /** Every queue and message gone, as when the emulator's process dies. */
  reset(): void;
}

export function createFifoQueues(opts: {
  urlOf: (name: string) => string;
  arnOf: (name: string) => string;
}): FifoQueues {
  let queues = new Map<string, Queue>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const activity = (queueName: string, visibleAt: number) =>
    events.emit('activity', { queueName, visibleAt } satisfies QueueActivity);

  function queueOf(input: Input): Queue {
    const q = queues.get(nameOf(input.QueueUrl));
    if (!q)
      throw new SqsError(
        'AWS.SimpleQueueService.NonExistentQueue',
        'The specified queue does not exist.',
        'com.amazonaws.sqs#QueueDoesNotExist',
      );
    return q;
  }

  const num = (q: Queue, name: string, fallback: number) => {
    const v = Number(q.attributes[name]);
    return Number.isFinite(v) ? v : fallback;
  };

  function expire(q: Queue, now: number) {
    const retentionMs = num(q, 'MessageRetentionPeriod', 345_600) * 1000;
    q.messages = q.messages.filter((m) => now - m.sentAt < retentionMs);
    for (const [key, d] of q.dedup) if (now - d.at >= DEDUP_WINDOW_MS) q.dedup.delete(key);
  }

  function redrive(q: Queue): { maxReceiveCount: number; target: Queue } | undefined {
    const raw = q.attributes.RedrivePolicy;
    if (!raw) return undefined;
    const policy = JSON.parse(raw) as { maxReceiveCount: number | string; deadLetterTargetArn: string };
    const target = queues.get(policy.deadLetterTargetArn.slice(policy.deadLetterTargetArn.lastIndexOf(':') + 1));
    return target ? { maxReceiveCount: Number(policy.maxReceiveCount), target } : undefined;
  }

  function enqueue(
    q: Queue,
    entry: Input,
    now: number,
  ): { MessageId: string; SequenceNumber: string; MD5OfMessageBody: string } {
    const body = entry.MessageBody;
    if (typeof body !== 'string' || body === '') throw missing('MessageBody');
    if (entry.DelaySeconds !== undefined) {
      throw invalid(
        `Value ${String(entry.DelaySeconds)} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.`,
      );
    }
    const groupId = entry.MessageGroupId;
    if (typeof groupId !== 'string') throw missing('MessageGroupId');
    if (!ID_PATTERN.test(groupId)) {
      throw invalid(
        `Value ${groupId} for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include alphanumeric and punctuation characters. 1 to 128 in length.`,
      );
    }
    let dedupId = entry.MessageDeduplicationId;
    if (dedupId === undefined && q.attributes.ContentBasedDeduplication === 'true') dedupId = sha256(body);
    if (typeof dedupId !== 'string') {
      throw invalid(
        'The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly',
      );
    }
    if (!ID_PATTERN.test(dedupId)) {
      throw invalid(
        `Value ${dedupId} for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can only include alphanumeric and punctuation characters. 1 to 128 in length.`,
      );
    }
    if (Buffer.byteLength(body) > num(q, 'MaximumMessageSize', 262_144)) {
      throw invalid(
        `One or more parameters are invalid. Reason: Message must be shorter than ${num(q, 'MaximumMessageSize', 262_144)} bytes.`,
      );
    }
    const dedupKey = q.attributes.DeduplicationScope === 'messageGroup' ? `${groupId}\n${dedupId}` : dedupId;
    const seen = q.dedup.get(dedupKey);
    if (seen) return { MessageId: seen.messageId, SequenceNumber: seen.sequence, MD5OfMessageBody: md5(body) };
    q.sequence += 1n;
    const m: Message = {
      id: randomUUID(),
      body,
      md5: md5(body),
      groupId,
      dedupId,
      sequence: q.sequence.toString().padStart(20, '0'),
      sentAt: now,
      receiveCount: 0,
      invisibleUntil: 0,
    };
    if (entry.MessageAttributes && typeof entry.MessageAttributes === 'object') {
      m.messageAttributes = entry.MessageAttributes as Record<string, unknown>;
    }
    q.messages.push(m);
    q.dedup.set(dedupKey, { at: now, messageId: m.id, sequence: m.sequence });
    return { MessageId: m.id, SequenceNumber: m.sequence, MD5OfMessageBody: m.md5 };
  }

  /** Moves messages that were received maxReceiveCount times, and are visible again, to the DLQ. */
  function deadLetter(q: Queue, now: number) {
    const policy = redrive(q);
    if (!policy) return;
    const moving = q.messages.filter((m) => m.invisibleUntil <= now && m.receiveCount >= policy.maxReceiveCount);
    if (moving.length === 0) return;
    q.messages = q.messages.filter((m) => !moving.includes(m));
    for (const m of moving) {
      policy.target.messages.push({
        ...m,
        receiveCount: 0,
        invisibleUntil: 0,
        receiptHandle: undefined,
        receivedAt: undefined,
        firstReceiveAt: undefined,
        deadLetterSourceArn: q.arn,
      });
    }
    activity(policy.target.name, now);
  }

  function receive(q: Queue, input: Input, now: number) {
    const max = input.MaxNumberOfMessages === undefined ? 1 : Number(input.MaxNumberOfMessages);
    if (!Number.isInteger(max) || max < 1 || max > 10) {
      throw invalid(
        `Value ${String(input.MaxNumberOfMessages)} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`,
      );
    }
    const visibilityS =
      input.VisibilityTimeout === undefined ? num(q, 'VisibilityTimeout', 30) : Number(input.VisibilityTimeout);
    deadLetter(q, now);
    const blocked = new Set(q.messages.filter((m) => m.invisibleUntil > now).map((m) => m.groupId));
    const taken: Message[] = [];
    // Groups in the order of their oldest message; within a group, from its head while unblocked.
    for (const m of q.messages) {
      if (taken.length >= max) break;
      if (blocked.has(m.groupId)) continue;
      taken.push(m);
    }
    for (const m of taken) {
      m.receiveCount += 1;
      m.firstReceiveAt ??= now;
      m.receivedAt = now;
      m.invisibleUntil = now + visibilityS * 1000;
      m.receiptHandle = Buffer.from(`${randomUUID()} ${q.name} ${m.id}`).toString('base64');
    }
    const names = new Set(
      ([] as unknown[]).concat(input.AttributeNames ?? [], input.MessageSystemAttributeNames ?? []).map(String),
    );
    const all = names.has('All');
    return taken.map((m) => {
      const attributes: Record<string, string> = {
        ApproximateReceiveCount: String(m.receiveCount),
        SentTimestamp: String(m.sentAt),
        ApproximateFirstReceiveTimestamp: String(m.firstReceiveAt),
        SenderId: 'AIDALOCALFIFO',
        MessageGroupId: m.groupId,
        MessageDeduplicationId: m.dedupId,
        SequenceNumber: m.sequence,
      };
      if (m.deadLetterSourceArn) attributes.DeadLetterQueueSourceArn = m.deadLetterSourceArn;
      const shown = Object.fromEntries(Object.entries(attributes).filter(([k]) => all || names.has(k)));
      return {
        MessageId: m.id,
        ReceiptHandle: m.receiptHandle,
        MD5OfBody: m.md5,
        Body: m.body,
        ...(Object.keys(shown).length > 0 ? { Attributes: shown } : {}),
        ...(m.messageAttributes ? { MessageAttributes: m.messageAttributes } : {}),
      };
    });
  }

  /** The message a receipt handle was given for, if it is still that message's current one. */
  function byHandle(q: Queue, handle: unknown): Message | 'gone' {
    if (typeof handle !== 'string' || handle === '') throw missing('ReceiptHandle');
    const [, queueName, id] = Buffer.from(handle, 'base64').toString('utf8').split(' ');
    if (queueName !== q.name || !id) {
      throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not valid.`);
    }
    const m = q.messages.find((x) => x.id === id);
    return m ?? 'gone';
  }

  function deleteOne(q: Queue, handle: unknown, now: number) {
    const m = byHandle(q, handle);
    if (m === 'gone') return; // Already deleted: AWS answers success.
    if (m.receiptHandle !== handle || m.invisibleUntil <= now) {
      throw invalid(
        `Value ${String(handle)} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`,
      );
    }
    q.messages = q.messages.filter((x) => x !== m);
    // The next message of its group may go now.
    activity(q.name, now);
  }

  function changeVisibility(q: Queue, handle: unknown, timeout: unknown, now: number) {
    const s = Number(timeout);
    if (timeout === undefined) throw missing('VisibilityTimeout');
    if (!Number.isInteger(s) || s < 0 || s > MAX_VISIBILITY_S) {
      throw invalid(
        `Value ${String(timeout)} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.`,
      );
    }
    const m = byHandle(q, handle);
    if (m === 'gone' || m.receiptHandle !== handle || m.invisibleUntil <= now) {
      throw invalid(
        `Value ${String(handle)} for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.`,
      );
    }
    if (now + s * 1000 - (m.receivedAt ?? now) > MAX_VISIBILITY_S * 1000) {
      throw invalid(
        `Value ${s} for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the message is beyond the limit [43200 seconds]`,
      );
    }
    m.invisibleUntil = now + s * 1000;
    activity(q.name, m.invisibleUntil);
  }

  /** A batch action's entries, each answered on its own. */
  function perEntry(input: Input, each: (e: Input) => Record<string, unknown>) {
    const entries = input.Entries;
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new SqsError(
        'AWS.SimpleQueueService.EmptyBatchRequest',
        'There should be at least one entry in the request.',
      );
    }
    if (entries.length > 10) {
      throw new SqsError(
        'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
        `Maximum number of entries per request are 10. You have sent ${entries.length}.`,
      );
    }
    const Successful: unknown[] = [];
    const Failed: unknown[] = [];
    for (const e of entries as Input[]) {
      try {
        Successful.push({ Id: e.Id, ...each(e) });
      } catch (err) {
        if (!(err instanceof SqsError)) throw err;
        Failed.push({ Id: e.Id, Code: err.code, Message: err.message, SenderFault: true });
      }
    }
    return { ...(Successful.length ? { Successful } : {}), ...(Failed.length ? { Failed } : {}) };
  }

  function attributesOf(q: Queue, wanted: unknown, now: number) {
    const inFlight = q.messages.filter((m) => m.invisibleUntil > now).length;
    const all: Record<string, string> = {
      ...q.attributes,
      QueueArn: q.arn,
      ApproximateNumberOfMessages: String(q.messages.length - inFlight),
      ApproximateNumberOfMessagesNotVisible: String(inFlight),
      ApproximateNumberOfMessagesDelayed: '0',
    };
    const names = Array.isArray(wanted) ? wanted.map(String) : [];
    if (names.includes('All')) return all;
    return Object.fromEntries(names.filter((n) => all[n] !== undefined).map((n) => [n, all[n]!]));
  }

  const DEFAULTS: Record<string, string> = {
    FifoQueue: 'true',
    VisibilityTimeout: '30',
    MessageRetentionPeriod: '345600',
    MaximumMessageSize: '262144',
    DelaySeconds: '0',
    ReceiveMessageWaitTimeSeconds: '0',
    ContentBasedDeduplication: 'false',
    DeduplicationScope: 'queue',
    FifoThroughputLimit: 'perQueue',
  };

  async function act(action: string, input: Input): Promise<unknown> {
    const now = Date.now();
    switch (action) {
      case 'CreateQueue': {
        const name = String(input.QueueName ?? '');
        if (!/^[a-zA-Z0-9_-]{1,75}\.fifo$/.test(name)) {
          throw invalid(
            'The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.',
          );
        }
        const attributes = { ...DEFAULTS, ...((input.Attributes as Record<string, string> | undefined) ?? {}) };
        if (attributes.FifoQueue !== 'true')
          throw invalid('The FifoQueue attribute must be true for a queue named .fifo');
        const existing = queues.get(name);
        if (existing) {
          const differs = Object.entries(attributes).some(([k, v]) => existing.attributes[k] !== String(v));
          if (differs)
            throw new SqsError(
              'QueueAlreadyExists',
              `A queue already exists with the same name and a different value for attribute(s)`,
              'com.amazonaws.sqs#QueueNameExists',
            );
        } else {
          queues.set(name, { name, arn: opts.arnOf(name), attributes, messages: [], dedup: new Map(), sequence: 0n });
        }
        return { QueueUrl: opts.urlOf(name) };
      }
      case 'GetQueueUrl': {
        const name = String(input.QueueName ?? '');
        if (!queues.has(name))
          throw new SqsError(
            'AWS.SimpleQueueService.NonExistentQueue',
            'The specified queue does not exist.',
            'com.amazonaws.sqs#QueueDoesNotExist',
          );
        return { QueueUrl: opts.urlOf(name) };
      }
      case 'DeleteQueue':
        queues.delete(queueOf(input).name);
        return {};
      case 'SetQueueAttributes': {
        const q = queueOf(input);
        Object.assign(q.attributes, input.Attributes as Record<string, string>);
        return {};
      }
      case 'GetQueueAttributes': {
        const q = queueOf(input);
        expire(q, now);
        return { Attributes: attributesOf(q, input.AttributeNames, now) };
      }
      case 'PurgeQueue':
        queueOf(input).messages = [];
        return {};
      case 'SendMessage': {
        const q = queueOf(input);
        expire(q, now);
        const sent = enqueue(q, input, now);
        activity(q.name, now);
        return sent;
      }
      case 'SendMessageBatch': {
        const q = queueOf(input);
        expire(q, now);
        const answer = perEntry(input, (e) => enqueue(q, e, now));
        activity(q.name, now);
        return answer;
      }
      case 'ReceiveMessage': {
        const q = queueOf(input);
        const waitS =
          input.WaitTimeSeconds === undefined
            ? num(q, 'ReceiveMessageWaitTimeSeconds', 0)
            : Number(input.WaitTimeSeconds);
        const until = now + waitS * 1000;
        for (;;) {
          const t = Date.now();
          expire(q, t);
          const messages = receive(q, input, t);
          if (messages.length > 0 || t >= until) return messages.length > 0 ? { Messages: messages } : {};
          await new Promise((r) => setTimeout(r, Math.min(20, until - t)));
        }
      }
      case 'DeleteMessage':
        deleteOne(queueOf(input), input.ReceiptHandle, now);
        return {};
      case 'DeleteMessageBatch': {
        const q = queueOf(input);
        return perEntry(input, (e) => {
          deleteOne(q, e.ReceiptHandle, now);
          return {};
        });
      }
      case 'ChangeMessageVisibility':
        changeVisibility(queueOf(input), input.ReceiptHandle, input.VisibilityTimeout, now);
        return {};
      case 'ChangeMessageVisibilityBatch': {
        const q = queueOf(input);
        return perEntry(input, (e) => {
          changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout, now);
          return {};
        });
      }
      default:
        throw new SqsError(
          'AWS.SimpleQueueService.UnsupportedOperation',
          `${action} is not emulated for FIFO queues locally (infra/local/fifo-queues.ts)`,
        );
    }
  }

  return {
    async handle(action, input) {
      try {
        return { status: 200, body: await act(action, input) };
      } catch (err) {
        if (!(err instanceof SqsError)) throw err;
        return {
          status: 400,
          body: { __type: err.type, message: err.message },
          queryError: `${err.code};Sender`,
        };
      }
    },
    onActivity(listener) {
      events.on('activity', listener);
      return () => events.off('activity', listener);
    },
    reset() {
      queues = new Map();
    },
  };
}
