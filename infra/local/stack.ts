/**
 * The embedded local stack: what the synthesized template describes, run on this machine against
 * in-process emulators on 127.0.0.1. The template (infra/local/template.ts) is the one
 * description of wiring that AWS and the laptop obey:
 *
 *   each AWS::Lambda::Function     -> its bundled code, Handler, Environment, Timeout, MemorySize
 *                                     (lambda-runtime.ts; `code: 'src'` runs the TypeScript sources)
 *   each SQS queue and the table    -> created in the emulators with the template's settings
 *   each AWS::Lambda::EventSourceMapping -> a poller: BatchSize, MaximumBatchingWindowInSeconds,
 *                                     ReportBatchItemFailures, MaximumConcurrency (sqs-poller.ts)
 *   each AWS::Events::Rule on a bus -> PutEvents, EventPattern, Lambda or SQS targets (rules.ts)
 *   each scheduled rule or AWS::Scheduler::Schedule -> a timer at its rate (scheduler.ts)
 *   the API's routes                -> HTTP requests as API Gateway proxy events (api-gateway.ts)
 *   AWS::SecretsManager::Secret     -> served to the functions (the admin key)
 *
 * One port serves both the API and PutEvents: a request carrying an X-Amz-Target header is an
 * AWS JSON protocol call (the API never uses that header), anything else goes to the API. So
 * `AWS_ENDPOINT_URL_EVENTBRIDGE=<apiUrl>` is all a producer needs. `eventsPort` moves PutEvents
 * to a port of its own instead.
 *
 * The functions reach AWS only through a recording endpoint (aws-calls.ts): with the assembly,
 * one per function, so every call is known by the role that made it (the IAM test reads them).
 *
 * @example
 * const stack = await startLocalStack({ port: 0, quiet: true, code: 'assembly' });
 * await fetch(`${stack.apiUrl}/health`);
 * await stack.stop();
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { ConfigError, ENV, parseConfig } from '../../functions/config';
import { topology } from '../topology';
import { answerClientError, apiGatewayListener, FRONT_MAX_HEADER_BYTES } from './api-gateway';
import { loadAssembly, STACK_NAME, type Assembly } from './assembly';
import { awsEndpoint, CallRecorder, localSecrets, type ArnLookup, type AwsCall } from './aws-calls';
import { startEmulators, type Emulators } from './emulators';
import { LocalStackError } from './errors';
import { putEventsEndpoint } from './eventbridge';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, type FunctionName, type Handlers } from './lambda';
import { inProcessFunction, workerFunction, type AnyHandler, type LocalFunction } from './lambda-runtime';
import { loadHandlers } from './load-handlers';
import { createLog } from './log';
import { closeServer, listen } from './net';
import { LOCAL_CREDENTIALS, provisionStack, sqsClient, type QueueKey, type QueueOverrides } from './provision';
import { ruleRuntime } from './rules';
import { scheduledEvent, startScheduler, type Scheduler } from './scheduler';
import { applyEnv, lockDataDir, resolveApiKey, resolveDataDir, resolvePort, resolveSqsPort } from './settings';
import { startSqsPoller, type SqsPoller } from './sqs-poller';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  deployedNaming,
  rateSeconds,
  readModel,
  referencedId,
  referencedIds,
  resolve,
  standardAttributes,
  type CfnTemplate,
  type FunctionSpec,
  type Naming,
  type StackModel,
} from './template';

export type { Handlers } from './lambda';
export type { AwsCall } from './aws-calls';
export { ConfigError };
export { LocalStackError } from './errors';

/** What runs as the functions: the assembly's bundles, or the TypeScript sources. */
export type LocalCode = 'assembly' | 'src';

export interface LocalStackOptions {
  /** API port; default PORT, else 3000; 0 picks a free one. */
  port?: number;
  /** A separate port for PutEvents; by default PutEvents shares the API's port. */
  eventsPort?: number;
  /** The SQS emulator's port; default HOOKRELAY_SQS_PORT, else any free one. */
  sqsPort?: number;
  /** Variables for the functions, over the template's and process.env (e.g. HOOKRELAY_RETRY_SCHEDULE). */
  env?: Record<string, string>;
  /** Keep tables and the admin key here; default HOOKRELAY_DATA_DIR, else in memory. */
  dataDir?: string;
  /**
   * `assembly`: the bundles of the synthesized cloud assembly, each function in a worker thread
   * with its own environment. `src`: the TypeScript handlers in this process. Both take every
   * piece of wiring from the template. Default HOOKRELAY_LOCAL_CODE, else `src`
   * (`npm start` defaults to `assembly`).
   */
  code?: LocalCode;
  /** An assembly directory to run (e.g. `cdk.out`) instead of the cached synth of this tree. */
  assemblyDir?: string;
  /** Handlers to use instead of the real ones, by function (tests); they run in this process. */
  handlers?: Partial<Handlers>;
  /** No console output at all (tests). */
  quiet?: boolean;
  /** Pollers per event source mapping, at most its MaximumConcurrency; default 2. */
  pollerConcurrency?: number;
  /** Run the schedules (default true); runHousekeeping() works either way. */
  housekeeping?: boolean;
  /** Queue settings other than the template's (tests: a short visibility timeout). */
  queueOverrides?: QueueOverrides;
  /** Waits before retrying a failed asynchronous invocation (a Lambda rule target); default 1 s then 2 s. */
  asyncRetryDelaysMs?: number[];
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
  /** What runs as the functions, and the assembly whose template gives the wiring. */
  code: LocalCode;
  assembly: Pick<Assembly, 'dir' | 'synthesized' | 'synthMs' | 'bundled'>;
  /** Every distinct AWS call made so far, by whom (see aws-calls.ts). */
  awsCalls: readonly AwsCall[];
  /** The environment each function runs with, by its role (`api`, `delivery`, ...). */
  functionEnvironments: Record<string, Record<string, string>>;
  /** Invokes housekeeping now (after any run in progress) and returns its result. */
  runHousekeeping(detail?: { recover?: boolean }): Promise<unknown>;
  /**
   * Fault injection for tests: the SQS emulator dies and restarts empty on the same port (every
   * queued message, the DLQ's included, is lost), the queues are provisioned again, and the
   * stack answers as it does when it starts over a data dir, when the queues' state is lost the
   * same way: one housekeeping run with `{ recover: true }`. Resolves with that run's report.
   */
  restartSqs(): Promise<unknown>;
  /** Fault injection for tests: the table unreachable (every connection cut) until set back. */
  setTableAvailable(available: boolean): void;
  /** Stops everything, waiting for work in flight; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Intake stops first (the servers, then the asynchronous invocations they started), so work
 * already accepted can still reach the queues; then the schedules and the pollers finish what is
 * in flight; then the functions, their AWS endpoints and the emulators close; last, the
 * environment is put back.
 */
const STOP_ORDER = [
  'http',
  'ingest',
  'rule target',
  'housekeeping',
  'pollers',
  'sqs client',
  'handler state',
  'aws endpoints',
  'emulators',
  'data dir lock',
  'environment',
] as const;
type Part = (typeof STOP_ORDER)[number];

/** The variables naming the delivery queues and the table: how the local names are chosen. */
const ROLE_VARS: Record<string, QueueKey | 'table'> = {
  [ENV.workQueueUrl]: 'work',
  [ENV.retryQueueUrl]: 'retry',
  [ENV.isolatedQueueUrl]: 'isolated',
  [ENV.dlqUrl]: 'dlq',
  [ENV.ingestQueueUrl]: 'ingest',
  [ENV.ingestDlqUrl]: 'ingestDlq',
  [ENV.orderedQueueUrl]: 'ordered',
  [ENV.tableName]: 'table',
};
/** Variables that name resources: set from the template, never by the operator. */
const RESOURCE_VARS = new Set<string>([
  ENV.tableName,
  ENV.workQueueUrl,
  ENV.workShardUrls,
  ENV.retryQueueUrl,
  ENV.isolatedQueueUrl,
  ENV.dlqUrl,
  ENV.ingestQueueUrl,
  ENV.ingestDlqUrl,
  ENV.orderedQueueUrl,
  ENV.apiKeySecretArn,
]);
/** Passed through to the worker threads from this process, so Node and the SDK behave as here. */
const PASSED_THROUGH = ['PATH', 'HOME', 'TMPDIR', 'TZ', 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'];

/** Which resource plays which part, read from the functions' environment in the template. */
function rolesOf(model: StackModel): Map<string, QueueKey | 'table'> {
  const roles = new Map<string, QueueKey | 'table'>();
  for (const fn of model.functions) {
    for (const [name, value] of Object.entries(fn.environment)) {
      const role = ROLE_VARS[name];
      const id = referencedId(value);
      if (role && id) roles.set(id, role);
    }
  }
  return roles;
}

/** The work queue's shards past the first (the work queue itself), by logical id: their shard numbers. */
function workShardsOf(model: StackModel): Map<string, number> {
  const shards = new Map<string, number>();
  for (const fn of model.functions) {
    referencedIds(fn.environment[ENV.workShardUrls]).forEach((id, n) => {
      if (n > 0) shards.set(id, n);
    });
  }
  return shards;
}

/** `HookrelayIngestDeadLetter5F4BBD67` -> `hookrelay-ingest-dead-letter`. */
function kebab(logicalId: string): string {
  const bare = logicalId.replace(/[0-9A-F]{8}$/, '').replace(/^Hookrelay/, '');
  return `hookrelay${bare.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * Starts the stack the synthesized template describes, step by step: read the assembly (and
 * check every variable first), provision the emulators, serve the front (API and PutEvents),
 * start the functions, wire their sources (rules, event source mappings, schedules). A step
 * that fails stops what the earlier ones started.
 */
export async function startLocalStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  const plan = await readAssemblyChecked(opts);
  const stops = stopper(plan.log);
  try {
    const res = await provision(plan, stops);
    const access = awsAccess(plan, res);
    const front = await serveFront(plan, res, access, stops);
    const fns = await startFunctions(plan, res, access, front, stops);
    const sources = await wireSources(plan, res, access, front, fns, stops);
    return handle(plan, res, access, front, fns, sources, stops);
  } catch (err) {
    await stops.stopAll();
    throw err;
  }
}

// ---- 1. read the assembly, and check every variable before anything starts --------------------

async function readAssemblyChecked(opts: LocalStackOptions) {
  const log = createLog(opts.quiet);
  const userEnv: Record<string, string | undefined> = { ...process.env, ...opts.env };
  const code: LocalCode = opts.code ?? (userEnv.HOOKRELAY_LOCAL_CODE === 'assembly' ? 'assembly' : 'src');
  if (userEnv.HOOKRELAY_LOCAL_CODE && !['assembly', 'src'].includes(userEnv.HOOKRELAY_LOCAL_CODE) && !opts.code) {
    throw new ConfigError([`HOOKRELAY_LOCAL_CODE must be assembly or src, got "${userEnv.HOOKRELAY_LOCAL_CODE}"`]);
  }
  const port = (() => {
    try {
      return resolvePort(opts.port, userEnv);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
  })();

  const assembly = await loadAssembly({ dir: opts.assemblyDir, bundle: code === 'assembly' });
  const model = readModel(assembly.template);
  const deployed = deployedNaming(LOCAL_ACCOUNT_ID, LOCAL_REGION, STACK_NAME);

  /** The operator's say over a function's variables: the template's, then theirs. */
  const overlay = (vars: Record<string, string>): Record<string, string> => {
    const out = { ...vars };
    // A receiver on 127.0.0.1 is the normal case on a laptop.
    out[ENV.allowPrivateTargets] = userEnv[ENV.allowPrivateTargets] ?? 'true';
    for (const name of Object.keys(vars)) {
      const given = userEnv[name];
      if (name.startsWith('HOOKRELAY_') && !RESOURCE_VARS.has(name) && given !== undefined) out[name] = given;
    }
    for (const [name, value] of Object.entries(opts.env ?? {})) if (!RESOURCE_VARS.has(name)) out[name] = value;
    return out;
  };

  // Fail fast, before anything starts, on bad variables: every problem in one ConfigError.
  const problems = new Set<string>(port instanceof ConfigError ? port.problems : []);
  for (const fn of model.functions) {
    const vars = resolve(assembly.template, deployed, fn.environment, `${fn.id} Environment`) as Record<string, string>;
    try {
      parseConfig(overlay(vars));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) problems.add(p);
    }
  }
  if (problems.size > 0) throw new ConfigError([...problems]);
  const dataDir = resolveDataDir(opts.dataDir, userEnv);
  const roles = rolesOf(model);
  const workShards = workShardsOf(model);
  return { opts, log, userEnv, code, port, assembly, model, roles, workShards, deployed, overlay, dataDir };
}
type Plan = Awaited<ReturnType<typeof readAssemblyChecked>>;

/** What has started, by part; `stopAll` (stop(), or a failed start) stops it in STOP_ORDER. */
function stopper(log: Plan['log']) {
  const running = new Map<Part, (() => Promise<void> | void)[]>();
  return {
    onStop: (part: Part, stop: () => Promise<void> | void) => running.set(part, [...(running.get(part) ?? []), stop]),
    async stopAll() {
      for (const part of STOP_ORDER) {
        const stops = running.get(part) ?? [];
        running.delete(part);
        for (const stop of stops) {
          try {
            await stop();
          } catch (err) {
            log.error(`stopping ${part}`, err);
          }
        }
      }
    },
  };
}
type Stops = ReturnType<typeof stopper>;

// ---- 2. provision: the emulators, the template's queues and table, their local names -----------

async function provision({ opts, userEnv, assembly, model, roles, workShards, dataDir }: Plan, { onStop }: Stops) {
  if (dataDir) onStop('data dir lock', lockDataDir(dataDir));
  const emulators: Emulators = await startEmulators({ dataDir, sqsPort: resolveSqsPort(opts.sqsPort, userEnv) });
  onStop('emulators', () => emulators.stop());

  // Local names: the delivery queues and the table keep the names the CLI knows
  // (topology.queues.*.name, a work shard `<work>-<n>`); every other resource is named after
  // its logical id.
  const localName = (id: string): string => {
    const shard = workShards.get(id);
    if (shard !== undefined) return `${topology.queues.work.name}-${shard}`;
    const role = roles.get(id);
    if (role === 'table') return topology.table.name;
    if (role) return topology.queues[role].name;
    const r = assembly.template.Resources[id];
    const fn = model.functions.find((f) => f.id === id);
    if (fn) return `hookrelay-${fn.role}`;
    const given = r?.Properties?.Name ?? r?.Properties?.QueueName ?? r?.Properties?.TableName;
    if (typeof given === 'string') return given;
    // A FIFO queue's name must end with `.fifo`.
    return model.queues.some((q) => q.id === id && q.fifo) ? `${kebab(id)}.fifo` : kebab(id);
  };
  const overrides = new Map<string, { visibilityTimeoutS?: number; maxReceiveCount?: number }>();
  for (const [id, role] of roles) {
    const o = role === 'table' ? undefined : opts.queueOverrides?.[role];
    if (o) overrides.set(id, o);
  }
  // The work queue's settings hold for each of its shards.
  for (const id of workShards.keys()) {
    const o = opts.queueOverrides?.work;
    if (o) overrides.set(id, o);
  }
  const provisioned = await provisionStack(emulators.endpoints, model, localName, overrides);

  /**
   * The local resources' names. `via` is the AWS endpoint of whoever gets the queue URLs: the
   * SQS client sends each call to the host in the QueueUrl, so a queue's URL must name the
   * endpoint that records the call (the emulator finds a queue by the URL's last segment).
   */
  const localNaming = (via?: string): Naming => ({
    account: LOCAL_ACCOUNT_ID,
    region: LOCAL_REGION,
    stackName: STACK_NAME,
    attributes(id, r) {
      const q = provisioned.queues.get(id);
      if (q) {
        const url = via ? `${via}/${LOCAL_ACCOUNT_ID}/${q.name}` : q.url;
        return { Ref: url, QueueUrl: url, Arn: q.arn, QueueName: q.name };
      }
      return standardAttributes(r, id, {
        account: LOCAL_ACCOUNT_ID,
        region: LOCAL_REGION,
        name: localName(id),
        queueUrl: (name) => `${emulators.endpoints.sqs}/${LOCAL_ACCOUNT_ID}/${name}`,
        apiEndpoint: () => 'http://127.0.0.1',
      });
    },
  });
  const attrs = (naming: Naming, id: string) => naming.attributes(id, assembly.template.Resources[id]!);
  return { emulators, localName, overrides, provisioned, localNaming, local: localNaming(), attrs };
}
type Resources = Awaited<ReturnType<typeof provision>>;

/** The secrets (the admin key is the one a function is told to read it from) and the ARN map. */
function awsAccess({ userEnv, model, deployed, dataDir }: Plan, { provisioned, local, attrs, localName }: Resources) {
  const apiKey = resolveApiKey(userEnv, dataDir);
  const adminSecretIds = new Set(
    model.functions.map((f) => referencedId(f.environment[ENV.apiKeySecretArn])).filter((x) => x !== undefined),
  );
  const secrets = new Map(
    model.secrets.map((id) => [
      id,
      {
        arn: attrs(local, id).Ref!,
        name: localName(id),
        value: adminSecretIds.has(id) ? apiKey : randomBytes(24).toString('base64url'),
      },
    ]),
  );

  // Local names to deployed ARNs, for the record of calls.
  const byLocal = <K>(entries: [K, string][]) => new Map(entries);
  const queueByName = byLocal([...provisioned.queues].map(([id, q]) => [q.name, attrs(deployed, id).Arn!]));
  const queueByArn = byLocal([...provisioned.queues].map(([id, q]) => [q.arn, attrs(deployed, id).Arn!]));
  const tableByName = byLocal([...provisioned.tables].map(([id, name]) => [name, attrs(deployed, id).Arn!]));
  const secretById = byLocal(
    [...secrets].flatMap(([id, s]) => [
      [s.arn, attrs(deployed, id).Ref!],
      [s.name, attrs(deployed, id).Ref!],
    ]),
  );
  const busIds = model.buses;
  const busNames = busIds.map((id) => attrs(local, id).Name!);
  const busByName = byLocal(
    busIds.flatMap((id) => [
      [attrs(local, id).Name!, attrs(deployed, id).Arn!],
      [attrs(local, id).Arn!, attrs(deployed, id).Arn!],
    ]),
  );
  const arns: ArnLookup = {
    queueByUrlOrName: (u) => queueByName.get(u.slice(u.lastIndexOf('/') + 1)),
    queueByArn: (a) => queueByArn.get(a),
    table: (n) => tableByName.get(n),
    secret: (s) => secretById.get(s),
    // No bus named: the default bus. hookrelay's producers name the stack's bus.
    bus: (b) =>
      b === undefined || b === 'default'
        ? `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:event-bus/default`
        : (busByName.get(b) ?? busByName.get(busNames[0] ?? '') ?? undefined),
  };
  return { apiKey, secrets, arns, busIds, busNames, recorder: new CallRecorder() };
}
type Access = ReturnType<typeof awsAccess>;

// ---- 3. serve: the front server listens before the functions load (requests wait for them) -----

async function serveFront(
  { opts, log, port }: Plan,
  { emulators }: Resources,
  { busNames }: Access,
  { onStop }: Stops,
) {
  let frontReady!: (v: { api: (event: unknown) => Promise<unknown> } | Error) => void;
  const front$ = new Promise<{ api: (event: unknown) => Promise<unknown> } | Error>((r) => (frontReady = r));
  // A rule's SQS target (the ingest queue): on it before PutEvents answers the entry.
  const targetSqs = sqsClient(emulators.endpoints.sqs);
  onStop('rule target', () => targetSqs.destroy());
  const sendToTarget = async (queueUrl: string, body: string) => {
    await targetSqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
  };

  // Set once the functions run: the template's rules for the bus's events.
  const routing: { publish?: (event: Record<string, unknown>) => Promise<void> } = {};
  const events = putEventsEndpoint({
    log,
    target: async (event) => {
      if (!routing.publish) throw new LocalStackError('the local stack is still starting');
      await routing.publish(event as unknown as Record<string, unknown>);
    },
    busNames,
  });
  const api = apiGatewayListener({
    log,
    invoke: async (event) => {
      const f = await front$;
      if (f instanceof Error) throw f;
      return (await f.api(event)) as never;
    },
  });
  const separateEvents = opts.eventsPort !== undefined;
  const front = createServer({ maxHeaderSize: FRONT_MAX_HEADER_BYTES }, (req, res) => {
    if (!separateEvents && req.headers['x-amz-target'] !== undefined) events.listener(req, res);
    else api(req, res);
  });
  front.on('clientError', answerClientError);
  const servers: Server[] = [front];
  onStop('http', async () => {
    await Promise.all(servers.map((s) => closeServer(s)));
  });
  onStop('ingest', () => events.drain());
  if (port instanceof ConfigError) throw port;
  const apiUrl = await listen(front, port);
  let eventsUrl = apiUrl;
  if (separateEvents) {
    const eventsServer = createServer((req, res) => events.listener(req, res));
    servers.push(eventsServer);
    eventsUrl = await listen(eventsServer, opts.eventsPort ?? 0);
  }
  return { frontReady, sendToTarget, routing, apiUrl, eventsUrl };
}
type Front = Awaited<ReturnType<typeof serveFront>>;

// ---- 4. start the functions: the assembly's bundles in workers, or the sources in-process -------

async function startFunctions(plan: Plan, res: Resources, access: Access, front: Front, { onStop }: Stops) {
  const { opts, log, code, assembly, model, dataDir } = plan;
  const { local, attrs } = res;
  const environments: Record<string, Record<string, string>> = {};
  const endpointFor = awsEndpointFor(plan, res, access, front, onStop);
  const envOf = (spec: FunctionSpec, endpoint: string) =>
    (environments[spec.role] = functionEnv(plan, res, spec, endpoint));

  const functions = new Map<string, LocalFunction>();
  const injected = opts.handlers ?? {};
  const sourceRoles = model.functions.filter((f) => !injected[f.role as FunctionName]).map((f) => f.role);
  if (code === 'src') {
    // One process, one environment: the union of the functions' own, which must agree.
    const shared = await endpointFor('process', 'src');
    const union: Record<string, string> = {};
    for (const spec of model.functions) {
      for (const [k, v] of Object.entries(envOf(spec, shared))) {
        if (k in union && union[k] !== v && k !== ENV.apiKeySecretArn) {
          throw new LocalStackError(
            `functions disagree on ${k} (${union[k]} / ${v}): run them from the assembly (HOOKRELAY_LOCAL_CODE=assembly)`,
          );
        }
        union[k] = v;
      }
    }
    const restoreEnv = applyEnv({ ...union, [ENV.apiKey]: undefined, [ENV.dataDir]: dataDir });
    onStop('environment', restoreEnv);
  }
  try {
    const unknownRole = sourceRoles.find((r) => !['api', 'delivery', 'ingest', 'housekeeping'].includes(r));
    if (code === 'src' && unknownRole) {
      throw new LocalStackError(`no source handler for the template's function ${unknownRole}`);
    }
    // Loaded only now, over a container of this stack's: it reads the environment just set.
    const loaded = code === 'src' ? await loadHandlers(injected) : undefined;
    if (loaded) onStop('handler state', () => loaded.close());
    const starting: Promise<void>[] = [];
    for (const spec of model.functions) {
      const name = attrs(local, spec.id).Ref!;
      const arn = attrs(local, spec.id).Arn!;
      const fake = injected[spec.role as FunctionName];
      if (fake || code === 'src') {
        const handler = (fake ?? loaded!.handlers[spec.role as FunctionName]) as AnyHandler;
        functions.set(spec.id, inProcessFunction(spec, name, arn, handler));
        continue;
      }
      const endpoint = await endpointFor(`role:${spec.roleId}`, spec.role);
      const fn = workerFunction({
        spec,
        name,
        arn,
        assemblyDir: assembly.dir,
        env: { ...pick(process.env, PASSED_THROUGH), ...envOf(spec, endpoint) },
        log,
      });
      onStop('handler state', () => fn.stop());
      functions.set(spec.id, fn);
      starting.push(fn.ready());
    }
    // Cold starts, all at once: a bundle that cannot load fails the start, not a request.
    await Promise.all(starting);
  } catch (err) {
    front.frontReady(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  return { functions, environments, endpointFor };
}
type Functions = Awaited<ReturnType<typeof startFunctions>>;

/**
 * The AWS endpoint the functions call: one per function with the assembly, so each call is known
 * by its caller; one for the process with the sources.
 */
function awsEndpointFor(
  { code }: Plan,
  { emulators }: Resources,
  { recorder, arns, secrets }: Access,
  { eventsUrl }: Front,
  onStop: Stops['onStop'],
) {
  return async (principal: string, via: string): Promise<string> => {
    const server = awsEndpoint({
      principal,
      via,
      recorder: code === 'assembly' ? recorder : undefined,
      local: emulators.dispatch,
      arns,
      routes: {
        sqs: emulators.endpoints.sqs,
        dynamodb: emulators.endpoints.dynamodb,
        events: eventsUrl,
        secrets: localSecrets(secrets),
      },
    });
    onStop('aws endpoints', () => closeServer(server));
    return listen(server, 0);
  };
}

/** A function's environment: the template's variables, the operator's overlay, the local AWS endpoint. */
function functionEnv(
  { opts, userEnv, assembly, overlay }: Plan,
  { localNaming }: Resources,
  spec: FunctionSpec,
  endpoint: string,
): Record<string, string> {
  const vars = resolve(assembly.template, localNaming(endpoint), spec.environment, `${spec.id} Environment`) as Record<
    string,
    string
  >;
  const awsEnv: Record<string, string | undefined> = {
    // The SDK inside the functions: fixed region, fake credentials, the local AWS endpoint.
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_SQS: endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
    // No CloudWatch here: the handlers' embedded-metric lines would only be noise.
    POWERTOOLS_METRICS_DISABLED: userEnv.POWERTOOLS_METRICS_DISABLED ?? 'true',
    POWERTOOLS_LOG_LEVEL: userEnv.POWERTOOLS_LOG_LEVEL ?? (opts.quiet ? 'SILENT' : undefined),
  };
  const all = { ...overlay(vars), ...awsEnv };
  return Object.fromEntries(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
}

// ---- 5. wire the sources: the bus's rules, the event source mappings, the schedules -------------

async function wireSources(plan: Plan, res: Resources, access: Access, front: Front, fns: Functions, stops: Stops) {
  const { log, code, model, roles, deployed } = plan;
  const { emulators, provisioned, attrs } = res;
  const { functions } = fns;
  const sqs = sqsClient(emulators.endpoints.sqs);
  stops.onStop('sqs client', () => sqs.destroy());
  const rules = ruleRuntime({
    rules: model.rules,
    functions,
    queues: new Map(
      [...provisioned.queues].map(([id, q]) => [id, { url: q.url, arn: attrs(deployed, id).Arn! }] as const),
    ),
    ruleArns: new Map(model.rules.map((r) => [r.id, attrs(deployed, r.id).Arn!] as const)),
    functionArns: new Map(model.functions.map((f) => [f.id, attrs(deployed, f.id).Arn!] as const)),
    sqs,
    recorder: code === 'assembly' ? access.recorder : undefined,
    log,
    retryDelaysMs: plan.opts.asyncRetryDelaysMs,
    sendToTarget: front.sendToTarget,
  });
  const defaultBus = access.busIds[0];
  if (defaultBus) front.routing.publish = (event) => rules.publish(defaultBus, event);
  stops.onStop('ingest', () => rules.drain());

  // The API: the template's routes, each to its function (api-gateway.ts builds the events).
  front.frontReady({
    api: apiInvoker(model, functions, (id) => attrs(deployed, id), code === 'assembly' ? access.recorder : undefined),
  });

  const queueUrls = Object.fromEntries(
    [...roles].filter(([, r]) => r !== 'table').map(([id, r]) => [r, provisioned.queues.get(id)!.url]),
  ) as Record<QueueKey, string>;
  // With a data dir the emulator keeps every queue's messages (both DLQs'), with their ids and ages.
  const restoreQueues = async () => {
    const kept = emulators.restoreDurableQueues();
    const n = Object.values(kept).reduce((a, b) => a + b, 0);
    if (n > 0) log.info(`restored ${n} message(s) kept on disk: ${JSON.stringify(kept)}`);
  };
  await restoreQueues();
  await startPollers(plan, res, fns, sqs, stops);
  const housekeeping = startSchedules(plan, res, access, fns, stops);
  return { queueUrls, restoreQueues, housekeeping };
}
type Sources = Awaited<ReturnType<typeof wireSources>>;

/** Event source mappings: the function's role receives and deletes, as Lambda's poller does. */
async function startPollers(
  { opts, log, code, model }: Plan,
  { emulators, provisioned }: Resources,
  { functions, endpointFor }: Functions,
  sqs: SQSClient,
  { onStop }: Stops,
) {
  const pollers: SqsPoller[] = [];
  for (const m of model.mappings.filter((x) => x.enabled)) {
    const fn = functions.get(m.functionId);
    const queue = provisioned.queues.get(m.queueId);
    if (!fn || !queue) throw new LocalStackError(`event source mapping ${m.id} names what the template lacks`);
    const viaEndpoint =
      code === 'assembly' ? await endpointFor(`role:${fn.spec.roleId}`, 'event source mapping') : undefined;
    const client = viaEndpoint ? sqsClient(viaEndpoint) : sqs;
    if (viaEndpoint) onStop('sqs client', () => client.destroy());
    pollers.push(
      startSqsPoller({
        sqs: client,
        queueUrl: viaEndpoint ? `${viaEndpoint}/${LOCAL_ACCOUNT_ID}/${queue.name}` : queue.url,
        queueArn: queue.arn,
        invoke: async (event) => (await fn.invoke(event)) as never,
        log,
        batchSize: m.batchSize,
        batchingWindowS: m.batchingWindowS,
        reportBatchItemFailures: m.reportBatchItemFailures,
        concurrency: Math.min(m.maxConcurrency ?? Infinity, opts.pollerConcurrency ?? 2),
        onActivity: emulators.onQueueActivity,
      }),
    );
  }
  onStop('pollers', async () => {
    await Promise.all(pollers.map((p) => p.stop()));
  });
}

/**
 * Schedules: the template's rate; HOOKRELAY_HOUSEKEEPING_RATE_S, when the operator sets it, runs
 * them more often locally (on AWS it is rounded up to whole minutes). Returns housekeeping's.
 */
function startSchedules(
  { opts, log, code, userEnv, model, deployed, dataDir }: Plan,
  { attrs }: Resources,
  { recorder }: Access,
  { functions }: Functions,
  { onStop }: Stops,
): Scheduler | undefined {
  const schedulers: { role: string; scheduler: Scheduler }[] = [];
  const rateOverride = userEnv[ENV.housekeepingRateS] ?? opts.env?.[ENV.housekeepingRateS];
  for (const rule of model.rules.filter((r) => r.schedule !== undefined)) {
    for (const target of rule.targets) {
      const fn = functions.get(target.resourceId);
      if (target.kind !== 'lambda' || !fn) continue;
      const ruleArn = attrs(deployed, rule.id).Arn!;
      const input = target.input === undefined ? undefined : (JSON.parse(target.input) as Record<string, unknown>);
      const scheduler = startScheduler({
        rateS: rateOverride ? Number(rateOverride) : rateSeconds(rule.schedule!),
        invoke: async (event) => {
          if (code === 'assembly') {
            recorder.record({
              principal: `service:${rule.scheduler ? 'scheduler' : 'events'}.amazonaws.com`,
              via: `schedule ${rule.id}`,
              action: 'lambda:InvokeFunction',
              resource: attrs(deployed, fn.spec.id).Arn!,
              context: { 'aws:SourceArn': ruleArn },
            });
          }
          return fn.invoke(event);
        },
        event: (detail) =>
          rule.scheduler
            ? { ...input, ...(detail ? { detail } : {}) }
            : (input ?? scheduledEvent(detail, new Date(), ruleArn)),
        log,
        periodic: opts.housekeeping !== false,
        startDetail: dataDir && opts.housekeeping !== false ? { recover: true } : undefined,
      });
      schedulers.push({ role: fn.spec.role, scheduler });
      onStop('housekeeping', () => scheduler.stop());
    }
  }
  return schedulers.find((s) => s.role === 'housekeeping')?.scheduler ?? schedulers[0]?.scheduler;
}

// ---- 6. the running stack, and how it stops ----------------------------------------------------

function handle(
  plan: Plan,
  res: Resources,
  access: Access,
  front: Front,
  fns: Functions,
  sources: Sources,
  stops: Stops,
): LocalStack {
  const { code, assembly, model, roles, dataDir } = plan;
  const { emulators, provisioned, localName, overrides } = res;
  const { housekeeping } = sources;
  const tableId = [...roles].find(([, r]) => r === 'table')?.[0];
  let stopped: Promise<void> | undefined;
  return {
    apiUrl: front.apiUrl,
    eventsUrl: front.eventsUrl,
    apiKey: access.apiKey,
    dataDir,
    endpoints: emulators.endpoints,
    queueUrls: sources.queueUrls,
    tableName: tableId ? provisioned.tables.get(tableId)! : '',
    code,
    assembly: {
      dir: assembly.dir,
      synthesized: assembly.synthesized,
      synthMs: assembly.synthMs,
      bundled: assembly.bundled,
    },
    awsCalls: access.recorder.calls,
    functionEnvironments: fns.environments,
    runHousekeeping: (detail) => {
      if (!housekeeping) throw new LocalStackError('the template schedules no function');
      return housekeeping.runNow(detail);
    },
    async restartSqs() {
      await emulators.restartSqs();
      const again = await provisionStack(emulators.endpoints, model, localName, overrides);
      // Same port, same names: the URLs every function and poller already holds still work.
      for (const [id, q] of again.queues) {
        if (q.url !== provisioned.queues.get(id)?.url) {
          throw new Error(`the restarted SQS emulator serves another URL for ${id}: ${q.url}`);
        }
      }
      await sources.restoreQueues();
      if (!housekeeping) throw new LocalStackError('the template schedules no function');
      return housekeeping.runNow({ recover: true });
    },
    setTableAvailable: (available) => emulators.setDynamoAvailable(available),
    stop: () => (stopped ??= stops.stopAll()),
  };
}

function pick(env: NodeJS.ProcessEnv, names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => env[n] !== undefined).map((n) => [n, env[n]!]));
}

/**
 * The API's routes to their functions. An HTTP API's `$default` route (hookrelay's shape) takes
 * every request; a route key `METHOD /path` takes its own, `ANY` any method, `{proxy+}` the rest
 * of the path. Only Lambda proxy integrations with payload 2.0 are run; a REST API (payload 1.0)
 * is refused at start until its event shape is added here.
 */
function apiInvoker(
  model: StackModel,
  functions: Map<string, LocalFunction>,
  deployedAttrs: (logicalId: string) => Record<string, string>,
  recorder: CallRecorder | undefined,
): (event: unknown) => Promise<unknown> {
  const spec = model.apis[0];
  if (!spec) return async () => ({ statusCode: 404, body: '{"message":"Not Found"}' });
  if (model.apis.length > 1)
    throw new LocalStackError('the template has more than one API; the local runtime runs one');
  const v1 = spec.routes.find((r) => r.payloadFormat === '1.0');
  if (v1) {
    throw new LocalStackError(
      `the template's ${spec.kind} API uses payload format 1.0 (${v1.routeKey}); the local runtime runs HTTP API payload 2.0 only`,
    );
  }
  const routes = spec.routes.map((r) => ({ ...r, match: routeMatcher(r.routeKey) }));
  return async (raw) => {
    const event = raw as {
      rawPath: string;
      requestContext: { http: { method: string }; routeKey: string; stage: string };
      routeKey: string;
      pathParameters?: Record<string, string>;
    };
    const method = event.requestContext.http.method;
    const found =
      routes.map((r) => ({ r, params: r.match(method, event.rawPath) })).find((x) => x.params !== undefined) ??
      undefined;
    if (!found)
      return { statusCode: 404, headers: { 'content-type': 'application/json' }, body: '{"message":"Not Found"}' };
    const fn = functions.get(found.r.functionId);
    if (!fn) throw new LocalStackError(`route ${found.r.routeKey} names a function that is not running`);
    event.routeKey = found.r.routeKey;
    event.requestContext.routeKey = found.r.routeKey;
    event.requestContext.stage = spec.stage;
    if (found.params && Object.keys(found.params).length > 0) event.pathParameters = found.params;
    if (recorder) {
      const deployedApiId = deployedAttrs(spec.id).Ref;
      recorder.record({
        principal: 'service:apigateway.amazonaws.com',
        via: `route ${found.r.routeKey}`,
        action: 'lambda:InvokeFunction',
        resource: deployedAttrs(fn.spec.id).Arn!,
        context: {
          'aws:SourceArn': `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${deployedApiId}/${spec.stage}/${method}${event.rawPath}`,
        },
      });
    }
    return fn.invoke(event);
  };
}

/** `$default`, `ANY /{proxy+}`, `GET /v1/apps/{appId}` -> a matcher giving the path parameters. */
export function routeMatcher(routeKey: string): (method: string, path: string) => Record<string, string> | undefined {
  if (routeKey === '$default') return () => ({});
  const [m, pattern = '/'] = routeKey.split(' ');
  const parts = pattern.split('/').filter(Boolean);
  return (method, path) => {
    if (m !== 'ANY' && m !== method) return undefined;
    const segs = path.split('/').filter(Boolean);
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (/^\{.+\+\}$/.test(p)) {
        if (i >= segs.length) return undefined;
        params[p.slice(1, -2)] = segs.slice(i).join('/');
        return params;
      }
      if (i >= segs.length) return undefined;
      if (/^\{.+\}$/.test(p)) params[p.slice(1, -1)] = decodeURIComponent(segs[i]!);
      else if (p !== segs[i]) return undefined;
    }
    return segs.length === parts.length ? params : undefined;
  };
}

export type { CfnTemplate };
