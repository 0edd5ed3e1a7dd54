/**
 * The queue operations behind `hookrelay dlq ...`: peeking without consuming, SQS's message move
 * task with its progress, a receive+send+delete fallback, and purge. Every call names its step
 * in the error it throws, so the CLI can print one clear line.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  type ListMessageMoveTasksResultEntry,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { withContext } from './context';

/**
 * How long a peeked message stays invisible if the CLI dies before it gives it back. Normally
 * it is given back (visibility 0) as soon as the listing is complete.
 */
export const PEEK_VISIBILITY_S = 30;
/** Long-poll each receive for this long: it asks every SQS server, so an empty answer means empty. */
const RECEIVE_WAIT_S = 1;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function step<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw withContext(err, what);
  }
}

export interface QueueInfo {
  arn: string;
  /** ApproximateNumberOfMessages (the local emulator also counts messages in flight here). */
  messages: number;
  inFlight: number;
}

export async function queueInfo(sqs: SQSClient, queueUrl: string): Promise<QueueInfo> {
  const out = await step(`GetQueueAttributes ${queueUrl}`, () =>
    sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] })),
  );
  const a = out.Attributes ?? {};
  if (!a.QueueArn) throw withContext(new Error('no QueueArn in the answer'), `GetQueueAttributes ${queueUrl}`);
  return {
    arn: a.QueueArn,
    messages: Number(a.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

/**
 * Reads up to `limit` messages without consuming them: each is received with a short visibility
 * timeout and, once the listing is complete (or `until` matched), made visible again with
 * ChangeMessageVisibility 0. Messages are held until then so that one listing never sees the
 * same message twice; for that instant other consumers cannot receive them.
 */
export async function peek(
  sqs: SQSClient,
  queueUrl: string,
  opts: {
    limit: number;
    until?: (m: Message) => boolean;
    /**
     * Stop once this many are found (the queue's approximate count): saves the final empty long
     * poll. A message that arrived after the count was taken may then be missed by this listing.
     */
    expected?: number;
  },
): Promise<Message[]> {
  const found = new Map<string, Message>();
  const held: string[] = [];
  try {
    while (found.size < opts.limit) {
      const out = await step(`ReceiveMessage ${queueUrl}`, () =>
        sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: Math.min(10, opts.limit - found.size),
            VisibilityTimeout: PEEK_VISIBILITY_S,
            WaitTimeSeconds: RECEIVE_WAIT_S,
            AttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
        ),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      let matched = false;
      for (const m of messages) {
        if (m.ReceiptHandle) held.push(m.ReceiptHandle);
        if (m.MessageId && !found.has(m.MessageId)) found.set(m.MessageId, m);
        if (opts.until?.(m)) matched = true;
      }
      if (matched || (opts.expected !== undefined && opts.expected > 0 && found.size >= opts.expected)) break;
    }
  } finally {
    await release(sqs, queueUrl, held);
  }
  return [...found.values()];
}

/** Makes received messages visible again at once. A handle that expired meanwhile is already visible. */
async function release(sqs: SQSClient, queueUrl: string, handles: string[]): Promise<void> {
  for (let i = 0; i < handles.length; i += 10) {
    const entries = handles.slice(i, i + 10).map((h, j) => ({ Id: String(j), ReceiptHandle: h, VisibilityTimeout: 0 }));
    await step(`ChangeMessageVisibilityBatch ${queueUrl}`, () =>
      sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries })),
    );
  }
}

export interface MoveProgress {
  moved: number;
  total: number;
}

export interface MoveResult extends MoveProgress {
  path: 'move-task' | 'receive-send-delete';
  status: string;
  failureReason?: string;
  durationMs: number;
}

/** Errors that mean "this SQS (an emulator, an old LocalStack) has no move task API". */
export function isMoveApiUnavailable(err: unknown): boolean {
  const e = (err instanceof Error && err.cause instanceof Error ? err.cause : err) as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  if (typeof e !== 'object' || e === null) return false;
  const names = [
    'UnsupportedOperation',
    'AWS.SimpleQueueService.UnsupportedOperation',
    'InvalidAction',
    'UnknownOperationException',
    'NotImplemented',
  ];
  return (
    names.includes(e.name ?? '') ||
    e.$metadata?.httpStatusCode === 501 ||
    /not (currently )?(supported|implemented)|unknown operation/i.test(e.message ?? '')
  );
}

/**
 * Starts SQS's message move task from the DLQ to `destinationArn` and follows it until it ends.
 * The destination is always given: messages the worker itself sent to the DLQ have no source
 * queue to return to.
 */
export async function moveWithTask(
  sqs: SQSClient,
  opts: {
    sourceArn: string;
    destinationArn: string;
    maxPerSecond?: number;
    pollMs?: number;
    onProgress?: (p: MoveProgress) => void;
  },
): Promise<MoveResult> {
  const started = Date.now();
  // Not wrapped by step(): the caller tells "unavailable" apart from other failures.
  const { TaskHandle } = await sqs.send(
    new StartMessageMoveTaskCommand({
      SourceArn: opts.sourceArn,
      DestinationArn: opts.destinationArn,
      MaxNumberOfMessagesPerSecond: opts.maxPerSecond,
    }),
  );
  for (;;) {
    await sleep(opts.pollMs ?? 500);
    const out = await step('ListMessageMoveTasks', () =>
      sqs.send(new ListMessageMoveTasksCommand({ SourceArn: opts.sourceArn, MaxResults: 10 })),
    );
    // Only one task per source can run, so ours is the newest; while running it carries our handle.
    const tasks = out.Results ?? [];
    const task: ListMessageMoveTasksResultEntry | undefined =
      tasks.find((t) => t.TaskHandle === TaskHandle) ?? tasks[0];
    if (!task) continue;
    const progress = {
      moved: task.ApproximateNumberOfMessagesMoved ?? 0,
      total: task.ApproximateNumberOfMessagesToMove ?? 0,
    };
    opts.onProgress?.(progress);
    if (task.Status && task.Status !== 'RUNNING') {
      return {
        path: 'move-task',
        ...progress,
        status: task.Status,
        failureReason: task.FailureReason,
        durationMs: Date.now() - started,
      };
    }
  }
}

/**
 * The fallback when the move task API is missing: receive from the DLQ, send each body unchanged
 * (with its message attributes) to the destination, delete what was sent. Moves at most the
 * `total` messages counted at the start, so messages that fail again and come back are not
 * cycled forever.
 */
export async function moveByCopy(
  sqs: SQSClient,
  opts: {
    sourceUrl: string;
    destinationUrl: string;
    total: number;
    maxPerSecond?: number;
    onProgress?: (p: MoveProgress) => void;
  },
): Promise<MoveResult> {
  const started = Date.now();
  let moved = 0;
  let failed = 0;
  const lastErrors: string[] = [];
  while (moved + failed < opts.total) {
    const want = Math.min(10, opts.total - moved - failed, opts.maxPerSecond ?? 10);
    const out = await step(`ReceiveMessage ${opts.sourceUrl}`, () =>
      sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: opts.sourceUrl,
          MaxNumberOfMessages: want,
          VisibilityTimeout: PEEK_VISIBILITY_S,
          WaitTimeSeconds: RECEIVE_WAIT_S,
          AttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      ),
    );
    const messages = (out.Messages ?? []).filter((m) => m.ReceiptHandle && m.Body !== undefined);
    if (messages.length === 0) break;
    const sent = await step(`SendMessageBatch ${opts.destinationUrl}`, () =>
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: opts.destinationUrl,
          Entries: messages.map((m, i) => ({
            Id: String(i),
            MessageBody: m.Body!,
            MessageAttributes:
              m.MessageAttributes && Object.keys(m.MessageAttributes).length > 0 ? m.MessageAttributes : undefined,
          })),
        }),
      ),
    );
    const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
    const toDelete = messages.flatMap((m, i) =>
      ok.has(String(i)) ? [{ Id: String(i), ReceiptHandle: m.ReceiptHandle! }] : [],
    );
    const notSent = messages.flatMap((m, i) => (ok.has(String(i)) ? [] : [m.ReceiptHandle!]));
    for (const f of sent.Failed ?? []) lastErrors.push(`${f.Code}: ${f.Message ?? ''}`);
    if (toDelete.length > 0) {
      await step(`DeleteMessageBatch ${opts.sourceUrl}`, () =>
        sqs.send(new DeleteMessageBatchCommand({ QueueUrl: opts.sourceUrl, Entries: toDelete })),
      );
    }
    // A message that could not be sent stays in the DLQ, visible again for the next try.
    await release(sqs, opts.sourceUrl, notSent);
    moved += toDelete.length;
    failed += notSent.length;
    opts.onProgress?.({ moved, total: opts.total });
    if (opts.maxPerSecond) {
      const due = started + (moved / opts.maxPerSecond) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
    }
  }
  return {
    path: 'receive-send-delete',
    moved,
    total: opts.total,
    status: failed > 0 ? 'FAILED' : 'COMPLETED',
    failureReason:
      failed > 0 ? `${failed} message(s) could not be sent: ${lastErrors.slice(-3).join('; ')}` : undefined,
    durationMs: Date.now() - started,
  };
}

export async function purge(sqs: SQSClient, queueUrl: string): Promise<void> {
  await step(`PurgeQueue ${queueUrl}`, () => sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl })));
}
