/**
 * Sustained throughput with zero loss, and the same measurement of a bare baseline.
 *
 * hookrelay: `producers` closed-loop senders POST batches of `batchSize` 1 KB events to the
 * embedded stack (POST /events/batch) for `seconds`, the stack's pollers (`pollers` per queue,
 * batches of 10) feed the delivery handler, and the recording receiver counts every webhook by
 * event id. Then sending stops, the backlog drains, and throughput is accepted events / (last
 * arrival - first send): the drain counts.
 *
 * The bare baseline is the minimal pipeline that does the job, in the same process, against the
 * same emulators, with the same concurrency and the same batches: a node:http server that puts
 * each event into DynamoDB (one PutItem) and sends the batch's messages (SendMessageBatch, ten a
 * request); `pollers` loops that ask the queue depth (as the local event source does), receive up
 * to 10, POST each body to the receiver, and delete the batch. Nothing else: no validation, auth,
 * fan-out read, signing, outcome record, retries or middleware.
 */
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS } from '../infra/local/provision';
import { RecordingReceiver } from '../scripts/recording-receiver';
import { checkExactlyOnce, eventData } from './cost';
import { startHarness } from './harness';
import { profiled, type CpuShare } from './profile';

/** The profiled runs' length at most (they only say where the CPU goes, not how fast). */
const PROFILE_SECONDS = 10;

export interface ThroughputSettings {
  seconds: number;
  /** Concurrent closed-loop senders (each waits for its 202 before sending again). */
  producers: number;
  /** Concurrent queue consumers, each taking batches of up to 10. */
  pollers: number;
  /** Events per ingest request (POST /events/batch). */
  batchSize: number;
  /** Also profile a shorter hookrelay run and baseline run after the measured ones (ThroughputRun.cpu). */
  profile: boolean;
  /** Also keep each run's raw V8 profile here (`.cpuprofile`, for DevTools or speedscope). */
  profileDir?: string;
}

export interface ThroughputRun {
  label: string;
  /** Runs merged into this one (see runThroughput: A B B A). */
  rounds: number;
  /** Seconds from the first send to the last arrival, over all rounds. */
  elapsedSeconds: number;
  sendingSeconds: number;
  accepted: number;
  delivered: number;
  exactlyOnce: boolean;
  missing: number;
  duplicates: number;
  acceptedPerSecond: number;
  deliveredPerSecond: number;
  drainSeconds: number;
  /** Fraction of the run the event loop was busy (1 = the one thread never waited). */
  eventLoopUtilization: number;
  /**
   * CPU time of the whole process (every thread, user and system) over the run, and per accepted
   * event: unlike deliveries per second, it hardly moves with the machine's other load.
   */
  cpuSeconds: number;
  cpuMsPerDelivery: number;
  /** Where the CPU went, from the profiled run after the measured ones (empty without `profile`). */
  cpu: CpuShare[];
}

export interface ThroughputResult {
  settings: ThroughputSettings;
  hookrelay: ThroughputRun;
  baseline: ThroughputRun;
  ratio: number;
}

interface Load {
  /** POSTs a batch of events numbered from `n`; resolves with their ids once accepted. */
  send(n: number, size: number): Promise<string[]>;
  receiver: RecordingReceiver;
  url: string;
  appId: string;
}

async function drive(label: string, load: Load, settings: ThroughputSettings): Promise<ThroughputRun> {
  const accepted: string[] = [];
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  const run = async () => {
    const start = Date.now();
    const stopAt = start + settings.seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: settings.producers }, async () => {
        while (Date.now() < stopAt) {
          const from = n;
          n += settings.batchSize;
          accepted.push(...(await load.send(from, settings.batchSize)));
        }
      }),
    );
    const sendingEnded = Date.now();
    await load.receiver.waitFor((r) => r.length >= accepted.length, 300_000, `${accepted.length} webhooks (${label})`);
    const last = Math.max(...load.receiver.received.map((r) => r.at));
    return { start, sendingEnded, last };
  };
  const saveAs = settings.profileDir
    ? join(settings.profileDir, `${label.replace(/\W+/g, '-')}-${Date.now()}.cpuprofile`)
    : undefined;
  const { result, cpu } = settings.profile ? await profiled(run, saveAs) : { result: await run(), cpu: [] };
  // Duplicates arrive late, if at all: give them a moment to show.
  await new Promise((r) => setTimeout(r, 500));
  const elu = performance.eventLoopUtilization(elu0);
  const used = process.cpuUsage(cpu0);
  const once = checkExactlyOnce(
    load.receiver.received,
    accepted.map((eventId) => ({ appId: load.appId, eventId })),
    new Map([[load.appId, [load.url]]]),
    1,
  );
  const elapsedS = (result.last - result.start) / 1000;
  const sendingS = (result.sendingEnded - result.start) / 1000;
  load.receiver.received.length = 0;
  return {
    label,
    rounds: 1,
    elapsedSeconds: elapsedS,
    sendingSeconds: sendingS,
    accepted: accepted.length,
    delivered: load.receiver.received.length,
    exactlyOnce: once.ok,
    missing: once.missing,
    duplicates: once.duplicates,
    acceptedPerSecond: accepted.length / sendingS,
    deliveredPerSecond: accepted.length / elapsedS,
    drainSeconds: Math.max(0, (result.last - result.sendingEnded) / 1000),
    eventLoopUtilization: elu.utilization,
    cpuSeconds: (used.user + used.system) / 1e6,
    cpuMsPerDelivery: (used.user + used.system) / 1000 / accepted.length,
    cpu,
  };
}

/** Two runs of the same system as one: totals over total time; CPU time summed by category. */
function merge(a: ThroughputRun, b: ThroughputRun): ThroughputRun {
  const elapsed = a.elapsedSeconds + b.elapsedSeconds;
  const sending = a.sendingSeconds + b.sendingSeconds;
  const accepted = a.accepted + b.accepted;
  const cpuMs = new Map<string, number>();
  for (const c of [...a.cpu, ...b.cpu]) cpuMs.set(c.category, (cpuMs.get(c.category) ?? 0) + c.ms);
  const cpuTotal = [...cpuMs.values()].reduce((x, y) => x + y, 0) || 1;
  return {
    label: a.label,
    rounds: a.rounds + b.rounds,
    elapsedSeconds: elapsed,
    sendingSeconds: sending,
    accepted,
    delivered: a.delivered + b.delivered,
    exactlyOnce: a.exactlyOnce && b.exactlyOnce,
    missing: a.missing + b.missing,
    duplicates: a.duplicates + b.duplicates,
    acceptedPerSecond: accepted / sending,
    deliveredPerSecond: accepted / elapsed,
    drainSeconds: Math.max(a.drainSeconds, b.drainSeconds),
    eventLoopUtilization:
      (a.eventLoopUtilization * a.elapsedSeconds + b.eventLoopUtilization * b.elapsedSeconds) / elapsed,
    cpuSeconds: a.cpuSeconds + b.cpuSeconds,
    cpuMsPerDelivery: ((a.cpuSeconds + b.cpuSeconds) * 1000) / accepted,
    cpu: [...cpuMs].map(([category, ms]) => ({ category, ms, share: ms / cpuTotal })).sort((x, y) => y.ms - x.ms),
  };
}

/**
 * hookrelay, the baseline, the baseline again, hookrelay again (A B B A), each for
 * `settings.seconds`: the machine's other load, which drifts, then weighs on both alike.
 */
export async function runThroughput(settings: ThroughputSettings, runId: string): Promise<ThroughputResult> {
  const h = await startHarness({ pollerConcurrency: settings.pollers, captureLogs: true, countRequests: false });
  try {
    const appId = await h.api.createApp('throughput');
    const url = h.receiver.endpoint([200]);
    const ep = await h.api.call('POST', `/v1/apps/${appId}/endpoints`, { url });
    if (ep.status !== 201) throw new Error(`create endpoint: ${ep.status}`);
    for (let i = 0; i < 5; i++)
      await h.api.sendEvent(appId, { type: 'warm.up', data: eventData(), id: `${runId}-warm-${i}` });
    await h.settle(5);
    h.receiver.received.length = 0;

    const hookrelayRun = (run: ThroughputSettings) => {
      return drive(
        'hookrelay',
        {
          appId,
          url,
          receiver: h.receiver,
          async send(n, size) {
            // No id of the producer's: the default path, whose ids hookrelay generates (one write
            // an event). An id the producer chooses claims a record first (one more conditional
            // write an event); the cost part prices that path (scenario singleIds).
            const events = Array.from({ length: size }, () => ({ type: 'invoice.paid', data: eventData() }));
            const res = await h.api.call<{ items: Array<{ id?: string }> }>('POST', `/v1/apps/${appId}/events/batch`, {
              events,
            });
            const ids = res.body.items.map((i) => i.id);
            if (res.status !== 202 || ids.some((id) => id === undefined))
              throw new Error(`POST /events/batch: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
            return ids as string[];
          },
        },
        run,
      );
    };
    // The figures come from runs without the profiler: sampling stacks costs the thread time in
    // proportion to their depth, which is hookrelay's (middleware, SDK, handlers) more than the
    // baseline's, so profiled runs understate the ratio (by about a tenth here). Where the CPU
    // goes is measured after them, on a shorter pair of its own.
    const measured = { ...settings, profile: false };
    const profiledPair = { ...settings, profile: true, seconds: Math.min(settings.seconds, PROFILE_SECONDS) };
    const first = await hookrelayRun(measured);
    let baselineCpu: CpuShare[] = [];
    const baseline = await withBaseline(h.stack.endpoints, h.stack.tableName, settings.pollers, runId, async (load) => {
      const a = await drive('bare baseline', { ...load, send: (n, size) => load.send(n, size) }, measured);
      const b = await drive('bare baseline', { ...load, send: (n, size) => load.send(n + 1_000_000, size) }, measured);
      if (settings.profile) {
        const p = await drive(
          'bare baseline',
          { ...load, send: (n, size) => load.send(n + 2_000_000, size) },
          profiledPair,
        );
        baselineCpu = p.cpu;
      }
      return merge(a, b);
    });
    const hookrelay = merge(first, await hookrelayRun(measured));
    if (settings.profile) hookrelay.cpu = (await hookrelayRun(profiledPair)).cpu;
    baseline.cpu = baselineCpu;
    return { settings, hookrelay, baseline, ratio: hookrelay.deliveredPerSecond / baseline.deliveredPerSecond };
  } finally {
    await h.stop();
  }
}

// ---- the bare baseline ------------------------------------------------------------------------

async function withBaseline<T>(
  endpoints: { sqs: string; dynamodb: string },
  table: string,
  pollers: number,
  runId: string,
  body: (load: Load) => Promise<T>,
): Promise<T> {
  const common = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb }));
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs });
  const receiver = await new RecordingReceiver().start();
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let stopping = false;
  let consumerError: unknown;
  let server: Server | undefined;
  const consumers: Array<Promise<void>> = [];
  try {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `bench-baseline-${runId}` }));
    const queueUrl = QueueUrl!;
    const appId = `bare${runId}`;
    const url = receiver.endpoint([200]);

    // Ingest: one PutItem per event, then the batch's messages, ten a request.
    server = createServer((req, res) => {
      void readJson<{ events: Array<{ id: string; type: string; data: unknown }> }>(req)
        .then(async ({ events }) => {
          const now = new Date().toISOString();
          await Promise.all(
            events.map((e) =>
              db.send(
                new PutCommand({
                  TableName: table,
                  Item: { pk: `BARE#${e.id}`, sk: '#EVENT', type: e.type, dataJson: JSON.stringify(e.data), at: now },
                }),
              ),
            ),
          );
          for (let i = 0; i < events.length; i += 10) {
            await sqs.send(
              new SendMessageBatchCommand({
                QueueUrl: queueUrl,
                Entries: events.slice(i, i + 10).map((e, j) => ({
                  Id: String(j),
                  MessageBody: JSON.stringify({ id: e.id, body: JSON.stringify({ type: e.type, data: e.data }) }),
                })),
              }),
            );
          }
          res
            .writeHead(202, { 'content-type': 'application/json' })
            .end(JSON.stringify({ items: events.map((e) => ({ id: e.id })) }));
        })
        .catch((err: unknown) => {
          res.writeHead(500).end(String(err));
        });
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const ingestUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events/batch`;

    const deliver = async (m: { id: string; body: string }) => {
      await post(agent, url, m.body, m.id);
    };
    // The consumers: what the local event source does (ask the depth, then receive), then deliver.
    for (let i = 0; i < pollers; i++) {
      consumers.push(
        (async () => {
          while (!stopping) {
            const { Attributes: a = {} } = await sqs.send(
              new GetQueueAttributesCommand({
                QueueUrl: queueUrl,
                AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
              }),
            );
            const visible =
              Number(a.ApproximateNumberOfMessages ?? 0) - Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
            if (visible <= 0) {
              await new Promise((r) => setTimeout(r, 5));
              continue;
            }
            const { Messages = [] } = await sqs.send(
              new ReceiveMessageCommand({
                QueueUrl: queueUrl,
                MaxNumberOfMessages: Math.min(10, visible),
                WaitTimeSeconds: 0,
              }),
            );
            if (Messages.length === 0) continue;
            await Promise.all(Messages.map((msg) => deliver(JSON.parse(msg.Body ?? '{}'))));
            await sqs.send(
              new DeleteMessageBatchCommand({
                QueueUrl: queueUrl,
                Entries: Messages.map((msg, j) => ({ Id: String(j), ReceiptHandle: msg.ReceiptHandle })),
              }),
            );
          }
        })().catch((err: unknown) => {
          consumerError ??= err;
        }),
      );
    }

    const result = await body({
      appId,
      url,
      receiver,
      async send(n, size) {
        const events = Array.from({ length: size }, (_, i) => ({
          id: `${runId}-bare-${n + i}`,
          type: 'invoice.paid',
          data: eventData(),
        }));
        const res = await fetch(ingestUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ events }),
        });
        if (res.status !== 202) throw new Error(`baseline ingest: ${res.status} ${await res.text()}`);
        await res.text();
        return events.map((e) => e.id);
      },
    });
    if (consumerError !== undefined) throw consumerError;
    return result;
  } finally {
    stopping = true;
    await Promise.allSettled(consumers);
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    }
    agent.destroy();
    await receiver.stop();
    db.destroy();
    sqs.destroy();
  }
}

function readJson<T>(req: IncomingMessage): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    req.on('error', reject);
  });
}

function post(agent: Agent, url: string, body: string, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
