/**
 * What the local SQS emulator cannot do: keep the EventBridge path's messages across a crash.
 * On AWS the ingest queue and its DLQ are durable; local-aws-sqs keeps everything in memory,
 * and unlike the delivery queues (which housekeeping rebuilds from the table) an event waiting
 * in the ingest queue is in no table yet. So, with a data dir, the local stack journals them:
 *
 * - `pending/<key>.json`: written (and fsynced) before PutEvents answers the entry, removed once
 *   the ingest function has finished with the message (ingested, or dead-lettered itself);
 * - `dead/<key>.json`: each message sent to the ingest DLQ, with its message attributes, removed
 *   when the same event is later ingested (after a redrive) or the DLQ is purged.
 *
 * On start, before the pollers run, every pending event goes back on the ingest queue and every
 * dead one back on the ingest DLQ. The key is a hash of the message body (the EventBridge event,
 * the same in both queues), so a message is journaled once whatever path it takes; re-ingesting
 * one that was in fact ingested just before a crash is harmless, the ingest is idempotent.
 *
 * What a crash can still cost (stated, not hidden): a redrive in flight at the kill is redone
 * from the DLQ side (the event shows up in the ingest DLQ again, to be redriven again), and the
 * receive count of a retried event starts over, which lengthens its retry horizon.
 */
import { createHash } from 'node:crypto';
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

export interface JournaledMessage {
  body: string;
  attributes?: Record<string, MessageAttributeValue>;
}

export interface IngestJournal {
  /** Before an event is put on the ingest queue. */
  pending(body: string): void;
  /** The put failed: the producer was told so and will retry, nothing to keep. */
  forget(body: string): void;
  /** A message reached the ingest DLQ (seen at the emulator). */
  deadLettered(message: JournaledMessage): void;
  /**
   * The ingest function finished with a message it was given at `since` (a mark()): its pending
   * entry goes, and its dead entry too unless it was dead-lettered since.
   */
  finished(body: string, since: number): void;
  /** The ingest DLQ was purged. */
  purged(): void;
  /** A point in the journal's sequence, taken before an invocation. */
  mark(): number;
  /** Puts what the journal holds back on the queues; returns how many of each. */
  replay(sqs: SQSClient, queues: { ingest: string; ingestDlq: string }): Promise<{ pending: number; dead: number }>;
}

const keyOf = (body: string) => createHash('sha256').update(body).digest('hex').slice(0, 40);

/** Writes a file so that a crash leaves the old one or the whole new one, never half of it. */
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

export function openIngestJournal(dataDir: string): IngestJournal {
  const dirs = { pending: join(dataDir, 'ingest', 'pending'), dead: join(dataDir, 'ingest', 'dead') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  // Since when each event's dead entry was written, by key (this process's sequence).
  const deadSince = new Map<string, number>();
  let seq = 0;
  const file = (dir: keyof typeof dirs, key: string) => join(dirs[dir], `${key}.json`);
  const read = (dir: keyof typeof dirs): JournaledMessage[] =>
    readdirSync(dirs[dir])
      .filter((f) => f.endsWith('.json'))
      .flatMap((f) => {
        try {
          return [JSON.parse(readFileSync(join(dirs[dir], f), 'utf8')) as JournaledMessage];
        } catch {
          return []; // a write the crash cut short is a .tmp file, never a .json one
        }
      });

  return {
    pending(body) {
      writeDurably(file('pending', keyOf(body)), JSON.stringify({ body }));
    },
    forget(body) {
      rmSync(file('pending', keyOf(body)), { force: true });
    },
    deadLettered(message) {
      const key = keyOf(message.body);
      writeDurably(file('dead', key), JSON.stringify(message));
      deadSince.set(key, ++seq);
    },
    finished(body, since) {
      const key = keyOf(body);
      rmSync(file('pending', key), { force: true });
      if ((deadSince.get(key) ?? 0) <= since) {
        rmSync(file('dead', key), { force: true });
        deadSince.delete(key);
      }
    },
    purged() {
      for (const f of readdirSync(dirs.dead)) rmSync(join(dirs.dead, f), { force: true });
      deadSince.clear();
    },
    mark: () => seq,
    async replay(sqs, queues) {
      const pending = read('pending');
      const pendingKeys = new Set(pending.map((m) => keyOf(m.body)));
      // An event both pending and dead was redriven before the crash: it goes to the ingest queue.
      const dead = read('dead').filter((m) => !pendingKeys.has(keyOf(m.body)));
      for (const m of pending) await sqs.send(new SendMessageCommand({ QueueUrl: queues.ingest, MessageBody: m.body }));
      for (const m of dead) {
        await sqs.send(
          new SendMessageCommand({ QueueUrl: queues.ingestDlq, MessageBody: m.body, MessageAttributes: m.attributes }),
        );
      }
      return { pending: pending.length, dead: dead.length };
    },
  };
}
