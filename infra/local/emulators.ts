/**
 * The AWS emulators, in-process on 127.0.0.1: local-aws-sqs (the AWS JSON protocol of
 * @aws-sdk/client-sqs, with redrive and DLQ move tasks) and dynalite (DynamoDB, LevelDB-backed).
 *
 * Persistence: with a data dir, dynalite keeps its tables in `<dataDir>/dynamodb`. LevelDB writes
 * its log before acknowledging a write, so a killed process loses nothing acknowledged (only a
 * machine crash could lose the last, unsynced writes), and each item write is one LevelDB batch
 * with its index entries (dynalite-atomic.ts), so a kill never leaves them apart. local-aws-sqs has no
 * persistence of its own: with a data dir, every queue's messages (both DLQs included) are kept
 * in a journal with their ids, ages and receive counts (durable-queues.ts), so a restart, even
 * after a SIGKILL, finds each message where it was.
 *
 * The SQS port: 0 (any free one) unless given (HOOKRELAY_SQS_PORT), so a CLI or an AWS CLI
 * profile can keep one endpoint across restarts.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import dynalite from 'dynalite';
import { createRequestHandler } from 'local-aws-sqs';
import { makeDynaliteWritesAtomic } from './dynalite-atomic';
import { memoizeDynaliteExpressions } from './dynalite-expressions';
import { openDurableQueues, type EmulatedService } from './durable-queues';
import { createFifoQueues, isFifoRequest, type FifoQueues } from './fifo-queues';
import type { QueueActivity } from './sqs-poller';

import { LocalStackError } from './errors';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './lambda';
import { closeServer, listen, urlOf } from './net';

/**
 * "Queue `queueName` will have a message to receive at `visibleAt`" (epoch ms), learnt from a
 * send (with its DelaySeconds) or a visibility change that went through the SQS emulator.
 * `queueName` undefined means any queue (a DLQ redrive task names only its source).
 */
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
   * Puts the messages kept on disk (durable-queues.ts) back in their queues, with their ids and
   * ages; call once the queues exist. Nothing without a data dir. Returns the count per queue.
   */
  restoreDurableQueues(): Record<string, number>;
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
  /** Keep the tables and every queue's messages here; default: everything in memory. */
  dataDir?: string;
  /** The SQS emulator's port; default 0, any free one. */
  sqsPort?: number;
}

export async function startEmulators(opts: EmulatorOptions = {}): Promise<Emulators> {
  const activity = new EventEmitter();
  activity.setMaxListeners(0);
  const durable = opts.dataDir ? openDurableQueues(opts.dataDir) : undefined;
  // FIFO queues are answered by fifo-queues.ts (local-aws-sqs ignores their message groups);
  // their URLs and ARNs are shaped like the emulator's, on the same port.
  let fifoPort = 0;
  const fifo = createFifoQueues({
    urlOf: (name) => `http://127.0.0.1:${fifoPort}/${LOCAL_ACCOUNT_ID}/${name}`,
    arnOf: (name) => `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${name}`,
  });
  fifo.onActivity((a) => activity.emit('activity', a));

  const startSqs = async (port: number) => {
    const { service, requestHandler } = createRequestHandler({
      port,
      hostname: '127.0.0.1',
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      // Off: AWS's 60 s wait before re-creating a deleted queue only slows tests down.
      emulateQueueCreationLifecycle: false,
    });
    const detach = durable?.attach(service as unknown as EmulatedService);
    const server = createServer(routeFifo(fifo, (req, res) => void requestHandler(req, res)));
    try {
      await listen(server, port);
    } catch (err) {
      detach?.();
      durable?.close();
      if (err instanceof LocalStackError && port !== 0)
        throw new LocalStackError(`SQS port ${port} is already in use (set HOOKRELAY_SQS_PORT to another port)`, {
          cause: err,
        });
      throw err;
    }
    // The queue URLs the emulator hands out name the port it really has.
    service.PORT = (server.address() as AddressInfo).port;
    fifoPort = service.PORT;
    observeSqsRequests(server, (a) => activity.emit('activity', a), durable ? () => durable.flush() : undefined);
    return { server, service, detach };
  };
  let current = await startSqs(opts.sqsPort ?? 0);
  let sqs = current.server;
  const sqsPort = (sqs.address() as AddressInfo).port;

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
    durable?.close();
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
    restoreDurableQueues() {
      return durable ? durable.restore(current.service as unknown as EmulatedService) : {};
    },
    async restartSqs() {
      if (stopped) throw new Error('the emulators are stopped');
      // As if its process died: connections cut at once, every message gone.
      cutHandedOver('sqs');
      // The dead emulator's timers (visibility timeouts, redrive moves) must not reach the journal.
      current.detach?.();
      for (const queue of current.service.Queues) queue.clearRecords();
      fifo.reset();
      await closeServer(sqs, 0);
      current = await startSqs(sqsPort);
      sqs = current.server;
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
        durable?.close();
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
 * Hands requests for FIFO queues to `fifo` and everything else to the emulator. The body is read
 * first to find the queue it names; a request for the emulator gets it back as a stream.
 */
function routeFifo(fifo: FifoQueues, emulator: (req: IncomingMessage, res: ServerResponse) => void) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!target.startsWith('AmazonSQS.')) {
      emulator(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let input: Input | undefined;
      try {
        input = JSON.parse(raw.toString('utf8')) as Input;
      } catch {
        input = undefined;
      }
      if (input && typeof input === 'object' && isFifoRequest(input)) {
        fifo.handle(target.slice('AmazonSQS.'.length), input).then(
          (answer) => {
            const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.0' };
            if (answer.queryError) headers['x-amzn-query-error'] = answer.queryError;
            res.writeHead(answer.status, headers).end(JSON.stringify(answer.body));
          },
          (err: unknown) => {
            res
              .writeHead(500, { 'content-type': 'application/x-amz-json-1.0' })
              .end(JSON.stringify({ __type: 'InternalFailure', message: String(err) }));
          },
        );
        return;
      }
      const replay = Object.assign(Readable.from([raw]), {
        headers: req.headers,
        method: req.method,
        url: req.url,
        socket: req.socket,
      }) as unknown as IncomingMessage;
      emulator(replay, res);
    });
  };
}

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

/**
 * Wraps the emulator's request listener to learn, from each successful action that makes
 * messages visible, which queue and when. The JSON protocol names the action in X-Amz-Target; the
 * body is read alongside the emulator (a second 'data' listener, attached in the same tick).
 * `beforeAnswer` runs just before each answer is sent.
 */
function observeSqsRequests(
  server: Server,
  onActivity: (a: QueueActivity) => void,
  beforeAnswer: (() => void) | undefined,
): void {
  const [original] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (!original) throw new Error('local-aws-sqs: no request listener to observe');
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (beforeAnswer) {
      // Before the answer leaves: a message kept on disk is kept before its sender knows it was accepted.
      const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
      res.end = ((...args: unknown[]) => {
        beforeAnswer();
        return end(...args);
      }) as typeof res.end;
    }
    const activityOf = ACTIVITY[String(req.headers['x-amz-target'])];
    if (activityOf) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      res.once('finish', () => {
        if (res.statusCode >= 300) return;
        let input: Input;
        try {
          input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Input;
        } catch {
          return;
        }
        const now = Date.now();
        const seen = new Set<string>();
        for (const { queueName, delayMs } of activityOf(input)) {
          const key = `${queueName ?? ''} ${delayMs}`;
          if (!seen.has(key)) onActivity({ queueName, visibleAt: now + delayMs });
          seen.add(key);
        }
      });
    }
    original.call(server, req, res);
  });
}
