/**
 * An event accepted by PutEvents while the table is unreachable is not lost: it waits in the
 * ingest queue, retried, and is ingested and delivered once the table is back. A SIGKILL of the
 * local stack while it waits changes nothing: restarted on the same data dir, the stack puts it
 * back on the ingest queue (the emulator keeps that queue on disk: infra/local/durable-queues.ts),
 * and it is delivered, once. An event refused meanwhile (its `data` not an object) is still in the ingest
 * DLQ, with its reason, after the restart.
 *
 * The stack runs as a child process (test/faults/fixtures/bus-stack.ts) with the real handlers
 * and a short ingest retry policy (HOOKRELAY_INGEST_RETRY=1,2,30: 1 s, then 2 s between tries).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/hookrelay';
import { keptMessages } from '../../infra/local/durable-queues';
import { freePort, killAll, spawnTs, type Child as Process } from '../helpers/processes';
import { RecordingReceiver } from '../helpers/receiver';
import { testApi } from '../helpers/target';

const API_KEY = 'hr_admin_bus_faults';
const RETRYING = 'event from the bus not ingested yet; retrying later';

interface Child extends Process {
  /** The child's SQS emulator endpoint, from its `ready` line. */
  sqsEndpoint(): string;
}

const children: Child[] = [];
let receiver: RecordingReceiver;
let dataDir: string;

beforeAll(async () => {
  receiver = await new RecordingReceiver().start();
  dataDir = mkdtempSync(join(tmpdir(), 'hookrelay-bus-faults-'));
});
afterAll(async () => {
  await killAll(children);
  await receiver?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function startStack(port: number): Promise<Child> {
  const child = spawnTs(['test/faults/fixtures/bus-stack.ts', dataDir, String(port)], {
    HOOKRELAY_API_KEY: API_KEY,
    HOOKRELAY_INGEST_RETRY: '1,2,30',
    HOOKRELAY_HOUSEKEEPING_RATE_S: '1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  });
  const c: Child = { ...child, sqsEndpoint: () => /ready \S+ (\S+)/.exec(child.output())?.[1] ?? '' };
  children.push(c);
  await c.waitFor('ready http', 'that it started');
  return c;
}

async function putEvent(port: number, detail: Record<string, unknown>): Promise<string> {
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
    return out.Entries?.[0]?.EventId ?? '';
  } finally {
    eb.destroy();
  }
}

describe('PutEvents while the table is unreachable', () => {
  it('is ingested once the table is back, and a SIGKILL while it waits changes nothing', async () => {
    const port = await freePort();
    const api = testApi({ apiUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY });
    let stack = await startStack(port);
    const appId = await api.createApp('bus-faults');
    const hook = receiver.endpoint([200]);
    await api.createEndpoint(appId, hook);

    // 1. The table goes away, an event arrives, fails for now, is retried, and the table comes back.
    stack.send('table down');
    await stack.waitFor('table is down', 'the table going down');
    const startedAt = Date.now();
    await putEvent(port, { appId, id: 'inv_outage_1', data: { amount: 1 } });
    await stack.waitFor(RETRYING, 'two failed tries of the first event', 2);
    expect(receiver.on(hook)).toHaveLength(0);
    stack.send('table up');
    await receiver.waitFor((r) => r.some((x) => x.headers['webhook-id'] === 'inv_outage_1'), 20_000, 'the first event');
    const outageMs = Date.now() - startedAt;
    // Its delivery recorded as succeeded before the table goes again (else it is, rightly, redone).
    await api.waitForStatus(appId, 'inv_outage_1', (s) => s.deliveries[0]?.status === 'succeeded');

    // 2. The table goes away again; an event waits in the ingest queue; the stack is SIGKILLed.
    stack.send('table down');
    await stack.waitFor('table is down', 'the table going down again', 2);
    const retriesBefore = stack.output().split(RETRYING).length - 1;
    await putEvent(port, { appId, id: 'inv_outage_2', data: { amount: 2 } });
    await stack.waitFor(RETRYING, 'a failed try of the second event', retriesBefore + 1);
    // Refused at once, table or not: `data` that is not an object. It waits in the ingest DLQ.
    const refused = await putEvent(port, { appId, data: 'not an object' });
    const onDisk = (queue: string) => keptMessages(dataDir).filter((m) => m.queue === queue).length;
    // On disk: the refused event in the ingest DLQ (and, once its batch is deleted, no longer in
    // the ingest queue), and the one event waiting in the ingest queue.
    for (let i = 0; onDisk('hookrelay-ingest-dlq') !== 1 || onDisk('hookrelay-ingest') !== 1; i++) {
      if (i > 400)
        throw new Error(`the refused event never settled in the ingest DLQ:\n${stack.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    stack.process.kill('SIGKILL');
    expect(await stack.exited).toBe('SIGKILL');
    expect(receiver.received.filter((x) => x.headers['webhook-id'] === 'inv_outage_2')).toHaveLength(0);

    // 3. Restarted on the same data dir, the table reachable: the waiting event is delivered, once.
    const restartedAt = Date.now();
    stack = await startStack(port);
    await receiver.waitFor(
      (r) => r.some((x) => x.headers['webhook-id'] === 'inv_outage_2'),
      20_000,
      'the second event',
    );
    const recoveryMs = Date.now() - restartedAt;
    await new Promise((r) => setTimeout(r, 1_500));

    const webhooks = (id: string) => receiver.received.filter((x) => x.headers['webhook-id'] === id);
    expect(webhooks('inv_outage_1')).toHaveLength(1);
    expect(webhooks('inv_outage_2')).toHaveLength(1);
    expect(JSON.parse(webhooks('inv_outage_2')[0]?.body ?? '{}')).toMatchObject({ data: { amount: 2 } });
    const status = await api.eventStatus(appId, 'inv_outage_2');
    expect(status.deliveries).toEqual([expect.objectContaining({ status: 'succeeded' })]);
    // Ingested, then deleted from the queue: nothing kept to restore at the next start.
    expect(onDisk('hookrelay-ingest')).toBe(0);
    // The refused event is still in the ingest DLQ, with its reason, as an operator lists it.
    let listed = '';
    const code = await run(['--endpoint-url', stack.sqsEndpoint(), '--json', 'dlq', 'list'], {
      stdout: { write: (t: string) => (listed += t) },
      stderr: { write: () => {} },
      env: {},
      interactive: false,
    });
    expect(code).toBe(0);
    const entries = listed
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries.filter((e) => e.kind === 'ingest')).toEqual([
      expect.objectContaining({ eventBridgeEventId: refused, code: 'validation_failed', attempt: 1 }),
    ]);
    console.log(`bus faults: outage_to_delivery_ms=${outageMs} restart_to_delivery_ms=${recoveryMs}`);
  }, 90_000);
});
