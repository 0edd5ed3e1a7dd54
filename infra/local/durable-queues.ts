/**
 * What the local SQS emulator cannot do by itself: keep its messages across a restart or a crash.
 * local-aws-sqs keeps everything in memory. With a data dir, every queue (the delivery queues,
 * both DLQs, the ingest queue) is kept on disk as a journal, `<dataDir>/sqs/journal.ndjson`,
 * written from inside the emulator, so that moves the emulator makes by itself (a redrive
 * policy's move to the DLQ, a DLQ redrive's message move task) are kept like a producer's send:
 *
 * - every message a queue takes is written when the emulator takes it, and fsynced before the
 *   answer leaves (once SendMessage or PutEvents has answered, the message is on disk);
 * - every receive and visibility change is written with the message's receive count, first
 *   receive time and when it is visible again; every delete, purge and queue deletion too;
 * - on start (and when the SQS emulator restarts), once the queues exist again, each kept
 *   message is put back in its queue with its message id, SentTimestamp,
 *   ApproximateReceiveCount and ApproximateFirstReceiveTimestamp, and stays out of sight until
 *   its delay or visibility timeout would have ended. A message past its queue's retention
 *   period is dropped, as SQS would have.
 *
 * Stated rather than hidden: a message that was in flight comes back as a delayed message (SQS
 * counts it in ApproximateNumberOfMessagesDelayed rather than NotVisible until then), and its old
 * receipt handle no longer works, as after any visibility timeout. A crash between a delete and
 * the write of its journal line brings the message back once: at least once, never lost. The
 * journal is rewritten to the live messages on start and whenever it passes 32 MB.
 *
 * The hooks go on the emulator's queue objects (their public methods `setRecord`, `receive`,
 * `delete`, `changeVisibility`, `clearRecords`), which is where local-aws-sqs 2.0.2 adds and
 * removes messages: every path into a queue, the redrive policy's and the move task's included,
 * calls `setRecord`.
 */
import { randomUUID } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** One message as the emulator holds it (local-aws-sqs's record). */
interface EmulatedRecord {
  MessageId: string;
  ReceiptHandle?: string;
  MessageBody: string;
  MessageAttributes?: Record<string, unknown>;
  /** SentTimestamp, ApproximateReceiveCount, ApproximateFirstReceiveTimestamp, MessageGroupId... */
  attributes: Record<string, string>;
}

/** The emulator's queue, as far as it is used here. */
export interface EmulatedQueue {
  QueueName: string;
  VisibilityTimeout: number;
  MessageRetentionPeriod: number;
  setRecord(input: Record<string, unknown>, messageId?: string): unknown;
  receive(opts: {
    VisibilityTimeout?: unknown;
    WaitTimeSeconds?: unknown;
    MaxNumberOfMessages?: unknown;
  }): Promise<EmulatedRecord[]>;
  delete(receiptHandle: string): boolean;
  changeVisibility(receiptHandle: string, visibilityTimeout: string): boolean;
  clearRecords(): void;
}

/** The emulator's service (createRequestHandler's `service`): its queues. */
export interface EmulatedService {
  Queues: EmulatedQueue[];
}

/** A kept message: enough to put it back as it was. */
interface Kept {
  q: string;
  id: string;
  body: string;
  attrs?: Record<string, unknown>;
  /** The record's system attributes as the emulator last had them. */
  sys: Record<string, string>;
  /** Epoch ms before which it is not to be received (its delay or visibility timeout). */
  at: number;
}

type Line =
  | ({ a: 'add' } & Kept)
  | { a: 'vis'; q: string; id: string; sys: Record<string, string>; at: number }
  | { a: 'del'; q: string; id: string }
  | { a: 'clear'; q: string };

export interface DurableQueues {
  /** Hooks the emulator's queues (those it has and those it creates); returns the unhook. */
  attach(service: EmulatedService): () => void;
  /**
   * Puts every kept message back in its queue of `service`; call once the queues exist. Returns
   * the count per queue.
   */
  restore(service: EmulatedService): Record<string, number>;
  /** Makes the journal lines written so far durable (called before each SQS answer leaves). */
  flush(): void;
  close(): void;
}

/** When the journal is rewritten to the live messages. */
const COMPACT_BYTES = 32 * 1024 * 1024;

/** The message id a receipt handle names (local-aws-sqs: base64 of a uuid and a JSON object). */
function messageIdOf(receiptHandle: string): string | undefined {
  try {
    const text = Buffer.from(receiptHandle, 'base64').toString('utf8');
    const id = (JSON.parse(text.slice(text.indexOf('{'))) as { MessageId?: unknown }).MessageId;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function apply(kept: Map<string, Kept>, line: Line): void {
  switch (line.a) {
    case 'add': {
      const { a: _a, ...k } = line;
      // A message id is unique across queues: an add under a known id is a move (redrive policy).
      kept.delete(k.id);
      kept.set(k.id, k);
      return;
    }
    case 'vis': {
      const k = kept.get(line.id);
      if (k && k.q === line.q) Object.assign(k, { sys: line.sys, at: line.at });
      return;
    }
    case 'del':
      if (kept.get(line.id)?.q === line.q) kept.delete(line.id);
      return;
    case 'clear':
      for (const [id, k] of kept) if (k.q === line.q) kept.delete(id);
      return;
  }
}

const journalOf = (dataDir: string) => join(dataDir, 'sqs', 'journal.ndjson');

function replay(file: string): Map<string, Kept> {
  const kept = new Map<string, Kept>();
  if (!existsSync(file)) return kept;
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (!text) continue;
    try {
      apply(kept, JSON.parse(text) as Line);
    } catch {
      // Only the last line can be cut short (a machine crash mid-write), and it was never answered.
    }
  }
  return kept;
}

/**
 * The messages a data dir keeps, as the journal says now (tests, and a look at a stopped stack's
 * queues): queue, message id, body and system attributes.
 */
export function keptMessages(
  dataDir: string,
): { queue: string; messageId: string; body: string; attributes: Record<string, string> }[] {
  return [...replay(journalOf(dataDir)).values()].map((k) => ({
    queue: k.q,
    messageId: k.id,
    body: k.body,
    attributes: k.sys,
  }));
}

export function openDurableQueues(dataDir: string): DurableQueues {
  const dir = join(dataDir, 'sqs');
  mkdirSync(dir, { recursive: true });
  const file = journalOf(dataDir);
  const kept = replay(file);
  importLegacyFiles(dir, kept);

  let fd = -1;
  let bytes = 0;
  let unsynced = false;
  /** Writes the live messages as a new journal (whole or absent after a crash) and appends to it. */
  const compact = () => {
    if (fd >= 0) closeSync(fd);
    const tmp = `${file}.tmp`;
    const out = openSync(tmp, 'w');
    let size = 0;
    try {
      const chunk: string[] = [];
      for (const k of kept.values()) chunk.push(JSON.stringify({ a: 'add', ...k }));
      const text = chunk.length > 0 ? `${chunk.join('\n')}\n` : '';
      size = Buffer.byteLength(text);
      writeSync(out, text);
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(tmp, file);
    fd = openSync(file, 'a');
    bytes = size;
    unsynced = false;
  };
  compact();
  removeLegacyFolders(dir);

  const write = (line: Line, sync: boolean) => {
    apply(kept, line);
    const text = `${JSON.stringify(line)}\n`;
    // A SIGKILL cannot lose what write() handed to the kernel; fsync guards against a machine crash.
    writeSync(fd, text);
    bytes += Buffer.byteLength(text);
    if (sync) unsynced = true;
    if (bytes > COMPACT_BYTES) compact();
  };
  const flush = () => {
    if (unsynced && fd >= 0) {
      fsyncSync(fd);
      unsynced = false;
    }
  };
  // Moves made by the emulator's own timers (a message move task) are not followed by an answer.
  const timer = setInterval(flush, 1000);
  timer.unref();

  /** True while a restore puts messages back: those are in the journal already. */
  let restoring = false;

  return {
    attach(service) {
      let attached = true;
      const hooked = new Set<EmulatedQueue>();
      const hook = (queue: EmulatedQueue) => {
        if (hooked.has(queue)) return;
        hooked.add(queue);
        const q = queue.QueueName;
        const setRecord = queue.setRecord.bind(queue);
        const receive = queue.receive.bind(queue);
        const del = queue.delete.bind(queue);
        const changeVisibility = queue.changeVisibility.bind(queue);
        const clearRecords = queue.clearRecords.bind(queue);
        queue.setRecord = (input, messageId) => {
          const result = setRecord(input, messageId) as { visible?: boolean; record?: EmulatedRecord };
          // A FIFO send deduplicated against a message it holds answers without a new message.
          if (attached && !restoring && result?.record && 'visible' in result) {
            const r = result.record;
            const delayS = Number(input.DelaySeconds);
            const at = Date.now() + (Number.isFinite(delayS) ? delayS : 0) * 1000;
            write(
              {
                a: 'add',
                q,
                id: r.MessageId,
                body: r.MessageBody,
                attrs: r.MessageAttributes,
                sys: { ...r.attributes },
                at,
              },
              true,
            );
          }
          return result;
        };
        queue.receive = async (opts) => {
          const got = await receive(opts);
          if (attached) {
            const visibilityS = Number(opts.VisibilityTimeout);
            const at = Date.now() + (Number.isFinite(visibilityS) ? visibilityS : queue.VisibilityTimeout) * 1000;
            for (const r of got) write({ a: 'vis', q, id: r.MessageId, sys: { ...r.attributes }, at }, false);
          }
          return got;
        };
        queue.delete = (handle) => {
          const done = del(handle);
          const id = attached ? messageIdOf(handle) : undefined;
          if (id) write({ a: 'del', q, id }, false);
          return done;
        };
        queue.changeVisibility = (handle, timeout) => {
          const done = changeVisibility(handle, timeout);
          const id = attached && done ? messageIdOf(handle) : undefined;
          const k = id ? kept.get(id) : undefined;
          if (id && k) write({ a: 'vis', q, id, sys: k.sys, at: Date.now() + Number(timeout) * 1000 }, false);
          return done;
        };
        queue.clearRecords = () => {
          clearRecords();
          if (attached) write({ a: 'clear', q }, false);
        };
      };
      for (const queue of service.Queues) hook(queue);
      // CreateQueue pushes; DeleteQueue splices (its messages go with it).
      const queues = service.Queues;
      queues.push = (...added: EmulatedQueue[]) => {
        for (const queue of added) hook(queue);
        return Array.prototype.push.apply(queues, added);
      };
      queues.splice = (...args: Parameters<EmulatedQueue[]['splice']>) => {
        const removed = Array.prototype.splice.apply(queues, args) as EmulatedQueue[];
        if (attached) for (const queue of removed) write({ a: 'clear', q: queue.QueueName }, false);
        return removed;
      };
      return () => {
        attached = false;
      };
    },

    restore(service) {
      const counts: Record<string, number> = {};
      const now = Date.now();
      restoring = true;
      try {
        for (const k of [...kept.values()]) {
          const queue = service.Queues.find((x) => x.QueueName === k.q);
          if (!queue) continue; // kept for a start whose template has that queue again
          if (Number(k.sys.SentTimestamp) + queue.MessageRetentionPeriod * 1000 < now) {
            write({ a: 'del', q: k.q, id: k.id }, false);
            continue;
          }
          const result = queue.setRecord(
            {
              MessageBody: k.body,
              MessageAttributes: k.attrs,
              MessageGroupId: k.sys.MessageGroupId,
              MessageDeduplicationId: k.sys.MessageDeduplicationId,
              DelaySeconds: Math.max(0, k.at - now) / 1000,
            },
            k.id,
          ) as { record?: EmulatedRecord };
          if (result?.record) Object.assign(result.record.attributes, k.sys);
          counts[k.q] = (counts[k.q] ?? 0) + 1;
        }
      } finally {
        restoring = false;
      }
      flush();
      return counts;
    },

    flush,

    close() {
      clearInterval(timer);
      if (fd >= 0) {
        flush();
        closeSync(fd);
        fd = -1;
      }
    },
  };
}

/**
 * Data dirs written before the journal kept the ingest queue and its DLQ as one file per message
 * in `<dataDir>/sqs/<queue>/`: those messages join the journal (under new ids) and the files go.
 */
function importLegacyFiles(dir: string, kept: Map<string, Kept>): void {
  for (const q of readdirSync(dir)) {
    const sub = join(dir, q);
    if (!statSync(sub).isDirectory()) continue;
    for (const f of readdirSync(sub).filter((x) => x.endsWith('.json'))) {
      try {
        const old = JSON.parse(readFileSync(join(sub, f), 'utf8')) as { body: string; attributes?: Kept['attrs'] };
        const id = randomUUID();
        const sys = {
          ApproximateReceiveCount: '0',
          SentTimestamp: String(Date.now()),
          ApproximateFirstReceiveTimestamp: '',
        };
        kept.set(id, { q, id, body: old.body, attrs: old.attributes, sys, at: 0 });
      } catch {
        // a file cut short was never answered
      }
    }
  }
}

/** Removes the legacy per-message folders once their messages are in the journal. */
function removeLegacyFolders(dir: string): void {
  for (const q of readdirSync(dir)) {
    const sub = join(dir, q);
    if (statSync(sub).isDirectory()) rmSync(sub, { recursive: true, force: true });
  }
}
