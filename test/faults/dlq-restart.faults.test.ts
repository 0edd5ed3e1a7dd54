/**
 * The dead-letter queues survive a restart of the local stack over a data dir, a clean one and a
 * SIGKILL alike: a failed delivery in the delivery DLQ and a failed ingest in the ingest DLQ keep
 * their message ids, their SentTimestamp (their age) and their receive counts, and an operator
 * redrives both once the causes are fixed. The SQS port is pinned (HOOKRELAY_SQS_PORT), so the
 * CLI keeps one endpoint across the restarts.
 *
 * The stack runs as a child process (test/faults/fixtures/bus-stack.ts: the real handlers, a
 * table that can be made unreachable) with one retry (HOOKRELAY_RETRY_SCHEDULE=1) and a short
 * ingest retry policy, so both DLQs fill in a few seconds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/hookrelay';
import { freePort, killAll, spawnTs, type Child } from '../helpers/processes';
import { RecordingReceiver } from '../helpers/receiver';
import { testApi } from '../helpers/target';

const API_KEY = 'hr_admin_dlq_restart';
const RETRYING = 'event from the bus not ingested yet; retrying later';

const children: Child[] = [];
let receiver: RecordingReceiver;
let dataDir: string;

beforeAll(async () => {
  receiver = await new RecordingReceiver().start();
  dataDir = mkdtempSync(join(tmpdir(), 'hookrelay-dlq-restart-'));
});
afterAll(async () => {
  await killAll(children);
  await receiver?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function startStack(port: number, sqsPort: number): Promise<Child> {
  const child = spawnTs(['test/faults/fixtures/bus-stack.ts', dataDir, String(port)], {
    HOOKRELAY_API_KEY: API_KEY,
    HOOKRELAY_SQS_PORT: String(sqsPort),
    HOOKRELAY_RETRY_SCHEDULE: '1',
    HOOKRELAY_INGEST_RETRY: '1,1,2',
    HOOKRELAY_HOUSEKEEPING_RATE_S: '1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  children.push(child);
  await child.waitFor('ready http', 'that it started');
  return child;
}

interface Listed {
  kind: string;
  messageId: string;
  sentAt: string;
  receiveCount: number;
  eventId: string | null;
  code?: string;
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(args, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env: {},
    interactive: false,
  });
  return { code, out, err };
}

async function listDlqs(sqsEndpoint: string): Promise<Listed[]> {
  const { code, out, err } = await cli(['--endpoint-url', sqsEndpoint, '--json', 'dlq', 'list']);
  expect(code, err).toBe(0);
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Listed)
    .sort((a, b) => a.kind.localeCompare(b.kind));
}

async function putEvent(port: number, detail: Record<string, unknown>): Promise<void> {
  const eb = new EventBridgeClient({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'fake', secretAccessKey: 'fake' },
  });
  try {
    const out = await eb.send(
      new PutEventsCommand({
        Entries: [{ Source: 'com.example.billing', DetailType: 'invoice.paid', Detail: JSON.stringify(detail) }],
      }),
    );
    expect(out.FailedEntryCount).toBe(0);
  } finally {
    eb.destroy();
  }
}

describe('the DLQs across restarts of the local stack', () => {
  it('keep each message, its id, age and receive count, after a clean stop and a SIGKILL, and redrive', async () => {
    const [port, sqsPort] = [await freePort(), await freePort()];
    const sqs = `http://127.0.0.1:${sqsPort}`;
    const api = testApi({ apiUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY });
    let stack = await startStack(port, sqsPort);
    expect(stack.output()).toContain(`ready http://127.0.0.1:${port} ${sqs}`);

    // A delivery that fails twice (the first attempt and its one retry): the delivery DLQ.
    const appId = await api.createApp('dlq-restart');
    const hook = receiver.endpoint([500]);
    await api.createEndpoint(appId, hook);
    await api.sendEvent(appId, { type: 'invoice.paid', id: 'inv_dlq_1', data: { amount: 1 } });
    await api.waitForStatus(appId, 'inv_dlq_1', (s) => s.deliveries[0]?.status === 'failed');

    // A bus event that cannot be stored while the table is away, out of its tries: the ingest DLQ.
    stack.send('table down');
    await stack.waitFor('table is down', 'the table going down');
    await putEvent(port, { appId, id: 'inv_dlq_2', data: { amount: 2 } });
    await stack.waitFor(RETRYING, 'a failed try of the bus event');
    let before: Listed[] = [];
    for (let i = 0; before.length < 2; i++) {
      if (i > 100) throw new Error(`the DLQs never held both messages: ${JSON.stringify(before)}`);
      await new Promise((r) => setTimeout(r, 200));
      before = await listDlqs(sqs);
    }
    stack.send('table up');
    await stack.waitFor('table is up', 'the table coming back');
    expect(before).toEqual([
      expect.objectContaining({ kind: 'exhausted', eventId: 'inv_dlq_1' }),
      expect.objectContaining({ kind: 'ingest', code: 'retries_exhausted' }),
    ]);

    // 1. A clean stop (stop(), as Ctrl-C does) and a start: the same messages, ids, ages; counts go on.
    stack.send('stop');
    expect(await stack.exited).toBe(0);
    stack = await startStack(port, sqsPort);
    const afterStop = await listDlqs(sqs);
    expect(afterStop.map((m) => [m.kind, m.messageId, m.sentAt])).toEqual(
      before.map((m) => [m.kind, m.messageId, m.sentAt]),
    );
    // Each listing receives each message once (a peek): the count goes on from where it was.
    for (const [i, m] of afterStop.entries()) expect(m.receiveCount).toBe(before[i]!.receiveCount + 1);

    // 2. SIGKILL and a start: the same again.
    stack.process.kill('SIGKILL');
    expect(await stack.exited).toBe('SIGKILL');
    stack = await startStack(port, sqsPort);
    const afterKill = await listDlqs(sqs);
    expect(afterKill.map((m) => [m.kind, m.messageId, m.sentAt])).toEqual(
      before.map((m) => [m.kind, m.messageId, m.sentAt]),
    );
    for (const [i, m] of afterKill.entries()) expect(m.receiveCount).toBe(afterStop[i]!.receiveCount + 1);

    // 3. The endpoint fixed and the table back: one redrive brings both back, and both are delivered.
    receiver.script(new URL(hook).pathname, [200]);
    const sent = (id: string) => receiver.received.filter((x) => x.headers['webhook-id'] === id).length;
    const failedTries = sent('inv_dlq_1');
    const redrive = await cli(['--endpoint-url', sqs, 'dlq', 'redrive', '--yes']);
    expect(redrive.code, redrive.err).toBe(0);
    await receiver.waitFor(
      () => sent('inv_dlq_1') > failedTries && sent('inv_dlq_2') > 0,
      30_000,
      'both redriven events',
    );
    await api.waitForStatus(appId, 'inv_dlq_1', (s) => s.deliveries[0]?.status === 'succeeded');
    await api.waitForStatus(appId, 'inv_dlq_2', (s) => s.deliveries[0]?.status === 'succeeded');
    expect(await listDlqs(sqs)).toEqual([]);
  }, 120_000);
});
