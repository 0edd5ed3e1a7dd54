/**
 * Housekeeping costs what its window holds, not what the app list holds: a run reads the activity
 * markers of its window (a fixed number of partitions) and the shards they name, never every app.
 * Counted here as DynamoDB calls per run, against the real-protocol emulator, with 10 apps and
 * then with 10,000.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoStores } from '../../functions/dynamo-stores';
import { createHousekeeping } from '../../functions/delivery/housekeeping';
import { newId } from '../../functions/shared/ids';
import { lifecycle } from '../../functions/delivery/lifecycle';
import type { Emulators } from '../../infra/local/emulators';
import { dynamoClient, provision } from '../../infra/local/provision';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { RecordingScheduler } from '../helpers/fakes';
import { anEvent } from '../helpers/fixtures';

let emulators: Emulators;
let db: DynamoDBDocumentClient;
let stores: ReturnType<typeof dynamoStores>;
/** DynamoDB calls by command name since the last reset. */
let calls = new Map<string, number>();

const T0 = Date.parse('2030-01-01T00:00:00.000Z');
let clock = T0;
const minutes = (n: number) => n * 60_000;
const scheduler = new RecordingScheduler(() => clock);

beforeAll(async () => {
  emulators = await startTestEmulators();
  const { tableName } = await provision(emulators.endpoints);
  db = DynamoDBDocumentClient.from(dynamoClient(emulators.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  db.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  stores = dynamoStores(db, { tableName, retentionDays: 30 });
}, 60_000);

afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

const housekeeping = () =>
  createHousekeeping({
    ...stores,
    store: stores.housekeeping,
    scheduler,
    life: lifecycle({ leaseS: 300 }),
    stuckAfterRequeues: 5,
    now: () => new Date(clock),
  });

async function createApps(from: number, to: number) {
  const ids = Array.from({ length: to - from }, (_, i) => `app_${String(from + i).padStart(6, '0')}`);
  for (let i = 0; i < ids.length; i += 50) {
    await Promise.all(
      ids.slice(i, i + 50).map((id) => stores.apps.putApp({ id, name: id, createdAt: new Date(T0).toISOString() })),
    );
  }
}

/** Three events, in two apps, whose first attempts were lost: the work a run must find. */
async function lostFirstAttempts(at: number) {
  const ids: string[] = [];
  for (const [k, appId] of ['app_000001', 'app_000001', 'app_000002'].entries()) {
    const id = newId('msg', at + k);
    ids.push(id);
    await stores.events.putEventIfAbsent(
      anEvent({ appId, id, timestamp: new Date(at + k).toISOString(), endpointIds: ['ep_1'] }),
    );
  }
  return ids;
}

/** One scheduled run at `at`, with the DynamoDB calls and process CPU it took. */
async function measuredRun(at: number) {
  clock = at;
  scheduler.sent = [];
  calls = new Map();
  const cpu = process.cpuUsage();
  const report = await housekeeping().run();
  const used = process.cpuUsage(cpu);
  return {
    report,
    calls: Object.fromEntries([...calls].sort(([a], [b]) => a.localeCompare(b))),
    total: [...calls.values()].reduce((a, b) => a + b, 0),
    cpuMs: (used.user + used.system) / 1000,
    redriven: scheduler.sent.map((s) => s.message.eventId).sort(),
  };
}

describe('housekeeping with many idle apps', () => {
  it('makes the same DynamoDB calls per run with 10,000 idle apps as with 10', async () => {
    await createApps(0, 10);
    await measuredRun(T0); // the first run sets the checkpoints

    const lostA = await lostFirstAttempts(T0 + minutes(1));
    const few = await measuredRun(T0 + minutes(30));
    // Their re-sent attempts end (here: skipped), so the next run's open index is as empty.
    for (const { message: m } of scheduler.sent) {
      await stores.deliveries.skip(
        { appId: m.appId, eventId: m.eventId, endpointId: m.endpointId, eventAt: m.eventAt! },
        't',
      );
    }

    await createApps(10, 10_000);
    const lostB = await lostFirstAttempts(T0 + minutes(31));
    const many = await measuredRun(T0 + minutes(60));

    // Both runs found their window's work, and only it.
    expect(few.redriven).toEqual(lostA.sort());
    expect(many.redriven).toEqual(lostB.sort());
    expect(few.report.reconciled).toBe(3);
    expect(many.report.reconciled).toBe(3);
    // And read the same: the app list is not walked.
    expect(many.calls).toEqual(few.calls);
    console.log(
      `housekeeping run: ${few.total} DynamoDB calls and ${few.cpuMs.toFixed(0)} ms CPU with 10 apps; ` +
        `${many.total} calls and ${many.cpuMs.toFixed(0)} ms CPU with 10,000 (${JSON.stringify(many.calls)})`,
    );
  }, 300_000);
});
