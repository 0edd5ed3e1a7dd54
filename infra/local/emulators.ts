/**
 * The AWS emulators, in-process on 127.0.0.1: local-aws-sqs (the AWS JSON protocol of
 * @aws-sdk/client-sqs, with redrive and DLQ move tasks) and dynalite (DynamoDB, LevelDB-backed).
 *
 * Persistence: with a data dir, dynalite keeps its tables in `<dataDir>/dynamodb`. LevelDB writes
 * its log before acknowledging a write, so a killed process loses nothing acknowledged (only a
 * machine crash could lose the last, unsynced writes), and each item write is one LevelDB batch
 * with its index entries (dynalite-atomic.ts), so a kill never leaves them apart. local-aws-sqs has no
 * persistence; for the delivery queues that is accepted because the table is the source of truth
 * and housekeeping re-enqueues every delivery that is due, so a restart only costs one
 * housekeeping run. The queues named `durableQueues` (the ingest queue and its DLQ, whose
 * messages are in no table) are kept on disk message by message instead (durable-queues.ts).
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { createSqsServer } from 'local-aws-sqs';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { makeDynaliteWritesAtomic } from './dynalite-atomic';
import { memoizeDynaliteExpressions } from './dynalite-expressions';
import { openDurableQueues } from './durable-queues';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './lambda';
import { closeServer, listen, urlOf } from './net';

/**
 * "Queue `queueName` will have a message to receive at `visibleAt`" (epoch ms), learnt from a
 * send (with its DelaySeconds) or a visibility change that went through the SQS emulator.
 * `queueName` undefined means any queue (a DLQ redrive task names only its source).
 */
export interface QueueActivity {
  queueName: string | undefined;
  visibleAt: number;
}

/** Answers one HTTP request as the emulator's own server would, on the caller's connection. */
export type Dispatch = (req: IncomingMessage, res: ServerResponse) => void;

export interface Emulators {
  endpoints: { sqs: string; dynamodb: string };
  /**
   * The emulators' request handlers, for a server of this process that fronts them (the local
   * AWS endpoint): a request handed over here costs no second connection. Faults apply alike:
   * while the table is unavailable, or when SQS restarts, the requests in flight here have
   * their connections cut too.
   */
  dispatch: { sqs: Dispatch; dynamodb: Dispatch };
  /** Lets the pollers sleep while their queue is idle and still react at once (see sqs-poller.ts). */
  onQueueActivity(listener: (activity: QueueActivity) => void): () => void;
  /**
   * Sends the messages kept on disk for the durable queues (durable-queues.ts) to them again;
   * call once the queues exist. Nothing without a data dir. Returns the count per queue.
   */
  restoreDurableQueues(sqs: SQSClient): Promise<Record<string, number>>;
  /**
   * Fault injection for tests: the SQS emulator dies (its connections cut, every queue and
   * message lost) and a fresh one starts on the same port, with no queues yet.
   */
  restartSqs(): Promise<void>;
  /**
   * Fault injection for tests: while unavailable, DynamoDB cuts every connection at once, as an
   * unreachable endpoint does; its data is untouched.
   */
  setDynamoAvailable(available: boolean): void;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** Keep the tables here, and the messages of `durableQueues`; default: everything in memory. */
  dataDir?: string;
  /** Queues whose messages, with a data dir, survive a crash (see durable-queues.ts). */
  durableQueues?: readonly string[];
}

export async function startEmulators(opts: EmulatorOptions = {}): Promise<Emulators> {
  const activity = new EventEmitter();
  activity.setMaxListeners(0);
  const durable =
    opts.dataDir && opts.durableQueues?.length ? openDurableQueues(opts.dataDir, opts.durableQueues) : undefined;

  const startSqs = async (port: number) => {
    const server = await createSqsServer({
      port,
      hostname: '127.0.0.1',
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      // Off: AWS's 60 s wait before re-creating a deleted queue only slows tests down.
      emulateQueueCreationLifecycle: false,
    });
    observeSqsRequests(
      server,
      (a) => activity.emit('activity', a),
      (action, input, answer) => durable?.observe(action, input, answer),
    );
    return server;
  };
  let sqs = await startSqs(0);
  const sqsPort = (sqs.address() as AddressInfo).port;
  const sqs0 = () => sqs;

  let dynamo: Server;
  let dynamoAvailable = true;
  try {
    const path = opts.dataDir ? join(opts.dataDir, 'dynamodb') : undefined;
    if (path) mkdirSync(path, { recursive: true });
    // An item and its index entries in one LevelDB batch, so a kill never leaves them apart.
    makeDynaliteWritesAtomic();
    // Each condition expression parsed once, not per request (dynalite-expressions.ts).
    memoizeDynaliteExpressions();
    // Zero delays: tables are ACTIVE as soon as they are created, so startup does not wait.
    dynamo = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await listen(dynamo, 0);
    cutWhileUnavailable(dynamo, () => dynamoAvailable);
  } catch (err) {
    await closeServer(sqs);
    throw err;
  }

  // The connections of requests handed over and not yet answered, by emulator: cut with its own.
  const handedOver = { sqs: new Set<Socket>(), dynamodb: new Set<Socket>() };
  const handOver =
    (which: keyof typeof handedOver, server: () => Server): Dispatch =>
    (req, res) => {
      const socket = req.socket;
      handedOver[which].add(socket);
      res.once('close', () => handedOver[which].delete(socket));
      server().emit('request', req, res);
    };
  const cutHandedOver = (which: keyof typeof handedOver) => {
    for (const socket of handedOver[which]) socket.destroy();
    handedOver[which].clear();
  };

  let stopped: Promise<void> | undefined;
  return {
    endpoints: { sqs: urlOf(sqs), dynamodb: urlOf(dynamo) },
    dispatch: { sqs: handOver('sqs', () => sqs), dynamodb: handOver('dynamodb', () => dynamo) },
    onQueueActivity(listener) {
      activity.on('activity', listener);
      return () => activity.off('activity', listener);
    },
    async restoreDurableQueues(sqs) {
      if (!durable) return {};
      const endpoint = urlOf(sqs0());
      return durable.restore(sqs, (name) => `${endpoint}/${LOCAL_ACCOUNT_ID}/${name}`);
    },
    async restartSqs() {
      if (stopped) throw new Error('the emulators are stopped');
      // As if its process died: connections cut at once, every message gone.
      cutHandedOver('sqs');
      await closeServer(sqs, 0);
      sqs = await startSqs(sqsPort);
    },
    setDynamoAvailable(available) {
      dynamoAvailable = available;
      // Connections kept alive from before would still get through: cut them too.
      if (!available) {
        dynamo.closeAllConnections();
        cutHandedOver('dynamodb');
      }
    },
    stop() {
      // dynalite's close() also closes its LevelDB store, which flushes it to disk.
      stopped ??= Promise.all([closeServer(sqs), closeServer(dynamo)]).then(() => {
        activity.removeAllListeners();
      });
      return stopped;
    },
  };
}

type Input = Record<string, unknown>;
const seconds = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v * 1000 : 0);
const entries = (input: Input) => (Array.isArray(input.Entries) ? (input.Entries as Input[]) : []);
const nameOf = (url: unknown) => (typeof url === 'string' ? url.slice(url.lastIndexOf('/') + 1) : undefined);

/** When each action makes messages visible (times are relative to the action's success). */
const ACTIVITY: Record<string, (input: Input) => { queueName: string | undefined; delayMs: number }[]> = {
  'AmazonSQS.SendMessage': (i) => [{ queueName: nameOf(i.QueueUrl), delayMs: seconds(i.DelaySeconds) }],
  'AmazonSQS.SendMessageBatch': (i) =>
    entries(i).map((e) => ({ queueName: nameOf(i.QueueUrl), delayMs: seconds(e.DelaySeconds) })),
  'AmazonSQS.ChangeMessageVisibility': (i) => [
    { queueName: nameOf(i.QueueUrl), delayMs: seconds(i.VisibilityTimeout) },
  ],
  'AmazonSQS.ChangeMessageVisibilityBatch': (i) =>
    entries(i).map((e) => ({ queueName: nameOf(i.QueueUrl), delayMs: seconds(e.VisibilityTimeout) })),
  'AmazonSQS.StartMessageMoveTask': () => [{ queueName: undefined, delayMs: 0 }],
};

/**
 * Wraps the emulator's request listener to learn, from each successful action that makes
 * messages visible, which queue and when. The JSON protocol names the action in X-Amz-Target; the
 * body is read alongside the emulator (a second 'data' listener, attached in the same tick).
 */
/** Destroys each connection's requests while `available()` says no. */
function cutWhileUnavailable(server: Server, available: () => boolean): void {
  const [original] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (!original) throw new Error('dynalite: no request listener to wrap');
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (!available()) {
      req.socket.destroy();
      return;
    }
    original.call(server, req, res);
  });
}

/** Actions reported to `onAnswer`, synchronously, just before their answer is sent. */
const REPORTED = new Set(
  ['SendMessage', 'SendMessageBatch', 'ReceiveMessage', 'DeleteMessage', 'DeleteMessageBatch', 'PurgeQueue'].map(
    (a) => `AmazonSQS.${a}`,
  ),
);

function observeSqsRequests(
  server: Server,
  onActivity: (a: QueueActivity) => void,
  onAnswer: (action: string, input: Input, answer: unknown) => void,
): void {
  const [original] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (!original) throw new Error('local-aws-sqs: no request listener to observe');
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target']);
    const activityOf = ACTIVITY[target];
    if (activityOf || REPORTED.has(target)) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      const parsed = () => {
        try {
          return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Input;
        } catch {
          return undefined;
        }
      };
      if (REPORTED.has(target)) {
        // Before the answer leaves: a message kept on disk is kept before its sender knows it was accepted.
        const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
        res.end = ((...args: unknown[]) => {
          const input = res.statusCode < 300 ? parsed() : undefined;
          if (input) {
            let answer: unknown;
            try {
              answer = typeof args[0] === 'string' && args[0] !== '' ? JSON.parse(args[0]) : {};
            } catch {
              answer = {};
            }
            onAnswer(target.slice('AmazonSQS.'.length), input, answer);
          }
          return end(...args);
        }) as typeof res.end;
      }
      if (activityOf) {
        res.once('finish', () => {
          if (res.statusCode >= 300) return;
          const input = parsed();
          if (!input) return;
          const now = Date.now();
          const seen = new Set<string>();
          for (const { queueName, delayMs } of activityOf(input)) {
            const key = `${queueName ?? ''} ${delayMs}`;
            if (!seen.has(key)) onActivity({ queueName, visibleAt: now + delayMs });
            seen.add(key);
          }
        });
      }
    }
    original.call(server, req, res);
  });
}
