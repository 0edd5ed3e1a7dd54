/**
 * The embedded local stack: the AWS emulators plus a small runtime that feeds the real Lambda
 * handlers the real event shapes, all in this process on 127.0.0.1.
 *
 *   HTTP request  -> API Gateway v2 event -> api handler           (api-gateway.ts)
 *   PutEvents     -> rule -> SQS ingest queue (EventBridge event JSON)   (eventbridge.ts)
 *   SQS ingest queue     -> SQSEvent      -> ingest handler        (sqs-poller.ts)
 *   SQS work/retry queue -> SQSEvent      -> delivery handler      (sqs-poller.ts)
 *   timer         -> ScheduledEvent       -> housekeeping handler  (scheduler.ts)
 *
 * One port serves both the API and PutEvents: a request carrying an X-Amz-Target header is an
 * AWS JSON protocol call (the API never uses that header), anything else goes to the API. So
 * `AWS_ENDPOINT_URL_EVENTBRIDGE=<apiUrl>` is all a producer needs. `eventsPort` moves PutEvents
 * to a port of its own instead.
 *
 * @example
 * const stack = await startLocalStack({ port: 0, quiet: true });
 * await fetch(`${stack.apiUrl}/health`);
 * await stack.stop();
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { config, ConfigError, parseConfig, resetConfigForTests } from '../../functions/config';
import { functionTunables, topology, ENV } from '../topology';
import { apiGatewayListener } from './api-gateway';
import { startEmulators, type Emulators } from './emulators';
import { putEventsEndpoint } from './eventbridge';
import { invoke, LOCAL_REGION, type Handlers } from './lambda';
import { loadHandlers } from './load-handlers';
import { createLog } from './log';
import { closeServer, listen } from './net';
import { LOCAL_CREDENTIALS, provision, sqsClient, type QueueKey, type QueueOverrides } from './provision';
import { startScheduler, type Scheduler } from './scheduler';
import { applyEnv, lockDataDir, resolveApiKey, resolveDataDir, resolvePort } from './settings';
import { startSqsPoller, type SqsPoller } from './sqs-poller';

export type { Handlers } from './lambda';
export { ConfigError };
export { LocalStackError } from './errors';

export interface LocalStackOptions {
  /** API port; default PORT, else 3000; 0 picks a free one. */
  port?: number;
  /** A separate port for PutEvents; by default PutEvents shares the API's port. */
  eventsPort?: number;
  /** Variables for the handlers, over process.env (e.g. HOOKRELAY_RETRY_SCHEDULE). */
  env?: Record<string, string>;
  /** Keep tables and the admin key here; default HOOKRELAY_DATA_DIR, else in memory. */
  dataDir?: string;
  /** Handlers to use instead of the real ones (tests); the others are loaded from functions/handlers. */
  handlers?: Partial<Handlers>;
  /** No console output at all (tests). */
  quiet?: boolean;
  /** Pollers per queue (the event source mapping's concurrency); default 2. */
  pollerConcurrency?: number;
  /** Run housekeeping on its schedule (default true); runHousekeeping() works either way. */
  housekeeping?: boolean;
  /** Queue settings other than the topology's (tests: a short visibility timeout). */
  queueOverrides?: QueueOverrides;
}

export interface LocalStack {
  apiUrl: string;
  /** Where PutEvents is served: apiUrl unless eventsPort was given. */
  eventsUrl: string;
  apiKey: string;
  /** Absolute data dir, or undefined when everything is in memory. */
  dataDir: string | undefined;
  endpoints: { sqs: string; dynamodb: string };
  queueUrls: Record<QueueKey, string>;
  tableName: string;
  /** Invokes housekeeping now (after any run in progress) and returns its result. */
  runHousekeeping(detail?: { recover?: boolean }): Promise<unknown>;
  /**
   * Fault injection for tests: the SQS emulator dies and restarts empty on the same port (every
   * queued message, the DLQ's included, is lost; with a data dir the ingest queue's and ingest
   * DLQ's come back from disk), the queues are provisioned again, and the stack answers as it
   * does when it starts over a data dir, when the queues' state is lost the same way: one
   * housekeeping run with `{ recover: true }`. Resolves with that run's report.
   */
  restartSqs(): Promise<unknown>;
  /** Fault injection for tests: the table unreachable (every connection cut) until set back. */
  setTableAvailable(available: boolean): void;
  /** Stops everything, waiting for work in flight; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Intake stops first (the servers, then the ingest invocations they started), so work already
 * accepted can still reach the queues; then housekeeping and the pollers finish what is in
 * flight; then the emulators flush and close; last, the environment is put back.
 */
const STOP_ORDER = [
  'http',
  'ingest',
  'rule target',
  'housekeeping',
  'pollers',
  'sqs client',
  'handler state',
  'emulators',
  'data dir lock',
  'environment',
] as const;
type Part = (typeof STOP_ORDER)[number];

/**
 * What the stack sets on every function besides the resources (webhook-delivery.ts); a variable
 * the operator set wins.
 */
function deploymentEnv(): Record<string, string | undefined> {
  const base: Record<string, string> = {
    ...functionTunables(),
    [ENV.retentionDays]: String(topology.retention.days),
    [ENV.version]: PACKAGE_VERSION,
  };
  return Object.fromEntries(Object.entries(base).map(([k, v]) => [k, process.env[k] ?? v]));
}
const PACKAGE_VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const log = createLog(opts.quiet);
  const userEnv: Record<string, string | undefined> = { ...process.env, ...opts.env };
  // Fail fast, before anything starts, on bad variables: every problem in one ConfigError.
  const problems: string[] = [];
  const collect = <T>(check: () => T, fallback: T): T => {
    try {
      return check();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems);
      return fallback;
    }
  };
  const port = collect(() => resolvePort(opts.port, userEnv), 0);
  // The resources do not exist yet: stand-ins, so that only the operator's variables are judged.
  const pending = { [ENV.tableName]: '-', [ENV.workQueueUrl]: '-', [ENV.retryQueueUrl]: '-', [ENV.dlqUrl]: '-' };
  collect(() => parseConfig({ ...deploymentEnv(), ...userEnv, ...pending }), undefined);
  if (problems.length > 0) throw new ConfigError(problems);
  const dataDir = resolveDataDir(opts.dataDir, userEnv);

  // What has started, by name; stop() (or a failed start) stops it in STOP_ORDER.
  const running = new Map<Part, () => Promise<void> | void>();
  const stopAll = async () => {
    for (const part of STOP_ORDER) {
      const stop = running.get(part);
      running.delete(part);
      try {
        await stop?.();
      } catch (err) {
        log.error(`stopping ${part}`, err);
      }
    }
  };

  try {
    if (dataDir) running.set('data dir lock', lockDataDir(dataDir));
    const emulators: Emulators = await startEmulators({
      dataDir,
      durableQueues: [topology.queues.ingest.name, topology.queues.ingestDlq.name],
    });
    running.set('emulators', () => emulators.stop());
    const resources = await provision(emulators.endpoints, opts.queueOverrides);

    // Requests can arrive as soon as the servers listen; they wait here until the handlers load.
    let handlersLoaded!: (h: Handlers) => void;
    let handlersFailed!: (err: unknown) => void;
    const handlers = new Promise<Handlers>((res, rej) => {
      handlersLoaded = res;
      handlersFailed = rej;
    });
    handlers.catch(() => {});

    // The rule's target: the ingest queue, as EventBridge puts an event on an SQS target.
    const targetSqs = sqsClient(emulators.endpoints.sqs);
    running.set('rule target', () => targetSqs.destroy());
    const events = putEventsEndpoint({
      log,
      target: async (event) => {
        await targetSqs.send(
          new SendMessageCommand({ QueueUrl: resources.queueUrls.ingest, MessageBody: JSON.stringify(event) }),
        );
      },
    });
    // The ingest queue and its DLQ hold what is in no table: with a data dir the emulator keeps them.
    const restoreQueues = async () => {
      const kept = await emulators.restoreDurableQueues(targetSqs);
      const n = Object.values(kept).reduce((a, b) => a + b, 0);
      if (n > 0) log.info(`restored ${n} message(s) kept on disk: ${JSON.stringify(kept)}`);
    };
    const api = apiGatewayListener({ log, invoke: async (event) => invoke('api', (await handlers).api, event) });
    const separateEvents = opts.eventsPort !== undefined;
    const front = createServer((req, res) => {
      if (!separateEvents && req.headers['x-amz-target'] !== undefined) events.listener(req, res);
      else api(req, res);
    });
    const servers: Server[] = [front];
    running.set('http', async () => {
      await Promise.all(servers.map((s) => closeServer(s)));
    });
    running.set('ingest', () => events.drain());
    const apiUrl = await listen(front, port);
    let eventsUrl = apiUrl;
    if (separateEvents) {
      const eventsServer = createServer((req, res) => events.listener(req, res));
      servers.push(eventsServer);
      eventsUrl = await listen(eventsServer, opts.eventsPort ?? 0);
    }

    const apiKey = resolveApiKey(userEnv, dataDir);
    const restoreEnv = applyEnv({
      ...deploymentEnv(),
      ...opts.env,
      // The SDK inside the handlers: fixed region, fake credentials, emulator endpoints.
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_ENDPOINT_URL_SQS: emulators.endpoints.sqs,
      AWS_ENDPOINT_URL_DYNAMODB: emulators.endpoints.dynamodb,
      AWS_ENDPOINT_URL_EVENTBRIDGE: eventsUrl,
      // The wiring the CDK stack sets on every function.
      [ENV.tableName]: resources.tableName,
      [ENV.workQueueUrl]: resources.queueUrls.work,
      [ENV.retryQueueUrl]: resources.queueUrls.retry,
      [ENV.dlqUrl]: resources.queueUrls.dlq,
      [ENV.ingestQueueUrl]: resources.queueUrls.ingest,
      [ENV.ingestDlqUrl]: resources.queueUrls.ingestDlq,
      // Locally the key is given directly, never read from Secrets Manager.
      [ENV.apiKey]: apiKey,
      [ENV.apiKeySecretArn]: undefined,
      // A receiver on 127.0.0.1 is the normal case on a laptop.
      [ENV.allowPrivateTargets]: userEnv[ENV.allowPrivateTargets] ?? 'true',
      [ENV.dataDir]: dataDir,
      // No CloudWatch here: the handlers' embedded-metric lines would only be noise.
      POWERTOOLS_METRICS_DISABLED: userEnv.POWERTOOLS_METRICS_DISABLED ?? 'true',
      POWERTOOLS_LOG_LEVEL: userEnv.POWERTOOLS_LOG_LEVEL ?? (opts.quiet ? 'SILENT' : undefined),
    });
    running.set('environment', () => {
      restoreEnv();
      resetConfigForTests();
    });
    resetConfigForTests();
    const cfg = config();

    try {
      const loaded = await loadHandlers(opts.handlers);
      // Before the emulators stop: the real handlers' SDK clients hold sockets open to them.
      running.set('handler state', () => loaded.reset());
      handlersLoaded(loaded.handlers);
    } catch (err) {
      handlersFailed(err);
      throw err;
    }

    const sqs = sqsClient(emulators.endpoints.sqs);
    running.set('sqs client', () => sqs.destroy());
    const pollers: SqsPoller[] = (['work', 'retry'] as const).map((key) =>
      startSqsPoller({
        sqs,
        queueUrl: resources.queueUrls[key],
        queueArn: resources.queueArns[key],
        invoke: async (event) => invoke('delivery', (await handlers).delivery, event),
        log,
        batchSize: topology.delivery.batchSize,
        concurrency: opts.pollerConcurrency,
        onActivity: emulators.onQueueActivity,
      }),
    );
    // The ingest function's event source mapping.
    await restoreQueues();
    pollers.push(
      startSqsPoller({
        sqs,
        queueUrl: resources.queueUrls.ingest,
        queueArn: resources.queueArns.ingest,
        invoke: async (event) => invoke('ingest', (await handlers).ingest, event),
        log,
        batchSize: topology.ingest.batchSize,
        concurrency: opts.pollerConcurrency,
        onActivity: emulators.onQueueActivity,
      }),
    );
    running.set('pollers', async () => {
      await Promise.all(pollers.map((p) => p.stop()));
    });

    const scheduler: Scheduler = startScheduler({
      rateS: cfg.housekeepingRateS,
      invoke: async (event) => invoke('housekeeping', (await handlers).housekeeping, event),
      log,
      periodic: opts.housekeeping !== false,
      startDetail: dataDir && opts.housekeeping !== false ? { recover: true } : undefined,
    });
    running.set('housekeeping', () => scheduler.stop());

    let stopped: Promise<void> | undefined;
    return {
      apiUrl,
      eventsUrl,
      apiKey,
      dataDir,
      endpoints: emulators.endpoints,
      queueUrls: resources.queueUrls,
      tableName: resources.tableName,
      runHousekeeping: (detail) => scheduler.runNow(detail),
      async restartSqs() {
        await emulators.restartSqs();
        const again = await provision(emulators.endpoints, opts.queueOverrides);
        // Same port, same names: the URLs every handler and poller already holds still work.
        if (JSON.stringify(again.queueUrls) !== JSON.stringify(resources.queueUrls)) {
          throw new Error(`the restarted SQS emulator serves other queue URLs: ${JSON.stringify(again.queueUrls)}`);
        }
        await restoreQueues();
        return scheduler.runNow({ recover: true });
      },
      setTableAvailable: (available) => emulators.setDynamoAvailable(available),
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
