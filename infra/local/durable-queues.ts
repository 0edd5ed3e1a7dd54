/**
 * What the local SQS emulator cannot do by itself: keep a queue's messages across a crash.
 * local-aws-sqs keeps everything in memory. The delivery queues can afford that (the table is
 * their truth, and housekeeping rebuilds them from it), but an event waiting in the ingest queue,
 * or dead-lettered in the ingest DLQ, is in no table. So, with a data dir, the emulator keeps the
 * queues named here on disk, one file per message, in `<dataDir>/sqs/<queue>/`:
 *
 * - a message is written (and fsynced) when the emulator accepts it (SendMessage or
 *   SendMessageBatch), before the sender gets the answer, so once PutEvents has answered an
 *   entry its event is on disk;
 * - it is removed when it is deleted (DeleteMessage or DeleteMessageBatch, by the receipt handle
 *   a ReceiveMessage gave out) or its queue is purged;
 * - on start, once the queues exist again, every kept message is sent to its queue again.
 *
 * What this does not keep, stated rather than hidden: visibility timeouts and receive counts (a
 * retried event starts its count over), and moves the emulator makes by itself (a redrive
 * policy's, a message move task's): such a message comes back in the queue it was last sent to,
 * so a redrive cut short by a crash is redone from the DLQ. A crash between a delete and the
 * removal of the file brings the message back once: at least once, never lost.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';

type Input = Record<string, unknown>;

interface Kept {
  body: string;
  attributes?: Record<string, MessageAttributeValue>;
}

export interface DurableQueues {
  /** An accepted SQS action, its input and the emulator's answer (called before the answer leaves). */
  observe(action: string, input: Input, answer: unknown): void;
  /** Sends every kept message to its queue again; the queues must exist. Returns the count per queue. */
  restore(sqs: SQSClient, queueUrl: (name: string) => string): Promise<Record<string, number>>;
}

const nameOf = (url: unknown) => (typeof url === 'string' ? url.slice(url.lastIndexOf('/') + 1) : '');
const list = (v: unknown): Input[] => (Array.isArray(v) ? (v as Input[]) : []);

/** A file a crash leaves whole or absent, never half written. */
function writeDurably(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export function openDurableQueues(dataDir: string, queueNames: readonly string[]): DurableQueues {
  const dirOf = (queue: string) => join(dataDir, 'sqs', queue);
  for (const q of queueNames) mkdirSync(dirOf(q), { recursive: true });
  const durable = new Set(queueNames);
  const fileOf = (queue: string, messageId: string) => join(dirOf(queue), `${messageId.replace(/[^\w.-]/g, '_')}.json`);
  // Receipt handle -> the message it names, learnt from ReceiveMessage answers.
  const handles = new Map<string, { queue: string; messageId: string }>();

  const keep = (queue: string, messageId: unknown, entry: Input) => {
    if (typeof messageId !== 'string' || typeof entry.MessageBody !== 'string') return;
    const kept: Kept = { body: entry.MessageBody, attributes: entry.MessageAttributes as Kept['attributes'] };
    writeDurably(fileOf(queue, messageId), JSON.stringify(kept));
  };
  const forget = (handle: unknown) => {
    const m = typeof handle === 'string' ? handles.get(handle) : undefined;
    if (!m) return;
    rmSync(fileOf(m.queue, m.messageId), { force: true });
    for (const [h, v] of handles) if (v.messageId === m.messageId) handles.delete(h);
  };

  return {
    observe(action, input, answer) {
      const queue = nameOf(input.QueueUrl);
      if (!durable.has(queue)) return;
      const out = (answer ?? {}) as Input;
      switch (action) {
        case 'SendMessage':
          keep(queue, out.MessageId, input);
          return;
        case 'SendMessageBatch': {
          const byId = new Map(list(input.Entries).map((e) => [e.Id, e]));
          for (const ok of list(out.Successful)) {
            const entry = byId.get(ok.Id);
            if (entry) keep(queue, ok.MessageId, entry);
          }
          return;
        }
        case 'ReceiveMessage':
          for (const m of list(out.Messages)) {
            if (typeof m.ReceiptHandle === 'string' && typeof m.MessageId === 'string')
              handles.set(m.ReceiptHandle, { queue, messageId: m.MessageId });
          }
          return;
        case 'DeleteMessage':
          forget(input.ReceiptHandle);
          return;
        case 'DeleteMessageBatch': {
          const byId = new Map(list(input.Entries).map((e) => [e.Id, e.ReceiptHandle]));
          for (const ok of list(out.Successful)) forget(byId.get(ok.Id));
          return;
        }
        case 'PurgeQueue':
          for (const f of readdirSync(dirOf(queue))) rmSync(join(dirOf(queue), f), { force: true });
          for (const [h, v] of handles) if (v.queue === queue) handles.delete(h);
          return;
      }
    },

    async restore(sqs, queueUrl) {
      const counts: Record<string, number> = {};
      for (const queue of queueNames) {
        const files = readdirSync(dirOf(queue)).filter((f) => f.endsWith('.json'));
        counts[queue] = files.length;
        for (const f of files) {
          const path = join(dirOf(queue), f);
          let kept: Kept;
          try {
            kept = JSON.parse(readFileSync(path, 'utf8')) as Kept;
          } catch {
            continue; // only a .tmp file can be cut short, and it never ends in .json
          }
          // Sent again (and so kept again, under its new id) before the old file goes.
          await sqs.send(
            new SendMessageCommand({
              QueueUrl: queueUrl(queue),
              MessageBody: kept.body,
              MessageAttributes: kept.attributes,
            }),
          );
          rmSync(path, { force: true });
        }
      }
      return counts;
    },
  };
}
