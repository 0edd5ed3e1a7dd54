/**
 * The AWS emulators, in-process on 127.0.0.1: local-aws-sqs (the AWS JSON protocol of
 * @aws-sdk/client-sqs, with redrive and DLQ move tasks) and dynalite (DynamoDB, LevelDB-backed).
 *
 * Persistence: with a data dir, dynalite keeps its tables in `<dataDir>/dynamodb` (LevelDB has a
 * write-ahead log, so a crash loses nothing already acknowledged). local-aws-sqs has no
 * persistence; that is accepted because the table is the source of truth and housekeeping
 * re-enqueues every delivery that is due, so a restart only costs one housekeeping run.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import dynalite from 'dynalite';
import { createSqsServer } from 'local-aws-sqs';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './lambda';
import { closeServer, listen, urlOf } from './net';

export interface Emulators {
  endpoints: { sqs: string; dynamodb: string };
  /**
   * Subscribes to "a queue may have new visible messages" (a send, or a visibility change, went
   * through the SQS emulator). Lets the pollers sleep when idle and still react at once.
   */
  onQueueActivity(listener: () => void): () => void;
  stop(): Promise<void>;
}

/** SQS actions after which a queue can have a message to receive right away. */
const WAKING_ACTIONS = new Set([
  'AmazonSQS.SendMessage',
  'AmazonSQS.SendMessageBatch',
  'AmazonSQS.ChangeMessageVisibility',
  'AmazonSQS.ChangeMessageVisibilityBatch',
  'AmazonSQS.StartMessageMoveTask',
]);

export async function startEmulators(opts: { dataDir?: string } = {}): Promise<Emulators> {
  const activity = new EventEmitter();
  activity.setMaxListeners(0);

  const sqs = await createSqsServer({
    port: 0,
    hostname: '127.0.0.1',
    region: LOCAL_REGION,
    accountId: LOCAL_ACCOUNT_ID,
    // Off: AWS's 60 s wait before re-creating a deleted queue only slows tests down.
    emulateQueueCreationLifecycle: false,
  });
  observeSqsRequests(sqs, (target) => {
    if (WAKING_ACTIONS.has(target)) activity.emit('activity');
  });

  let dynamo: Server;
  try {
    const path = opts.dataDir ? join(opts.dataDir, 'dynamodb') : undefined;
    if (path) mkdirSync(path, { recursive: true });
    // Zero delays: tables are ACTIVE as soon as they are created, so startup does not wait.
    dynamo = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await listen(dynamo, 0);
  } catch (err) {
    await closeServer(sqs);
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    endpoints: { sqs: urlOf(sqs), dynamodb: urlOf(dynamo) },
    onQueueActivity(listener) {
      activity.on('activity', listener);
      return () => activity.off('activity', listener);
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

/**
 * Wraps the emulator's request listener to learn which action each request was, once answered.
 * The JSON protocol names it in the X-Amz-Target header, so the body is left untouched.
 */
function observeSqsRequests(server: Server, onAnswered: (target: string) => void): void {
  const [original] = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  if (!original) throw new Error('local-aws-sqs: no request listener to observe');
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string') res.once('finish', () => onAnswered(target));
    original.call(server, req, res);
  });
}
