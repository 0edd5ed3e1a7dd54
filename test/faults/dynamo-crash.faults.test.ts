/**
 * The local DynamoDB (dynalite over LevelDB in the data dir) dying mid-write: every acknowledged
 * write must survive, and each item must still agree with its entry on the open index.
 * Housekeeping finds unfinished work through that index only, so an item whose index entry was
 * lost (or left describing a state the item never reached) is work nothing will ever re-drive:
 * a lost delivery.
 *
 * Two views: a crash placed after every LevelDB write of an item write in turn (deterministic),
 * and real SIGKILLs of a process writing flat out (what a user's crash looks like).
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulators } from '../../infra/local/emulators';
import { dynamoClient, provision } from '../../infra/local/provision';
import { topology } from '../../infra/topology';

const KILLS = 2;
/** Acknowledged writes to wait for before each kill: the writer is then in full swing. */
const ACKS_BEFORE_KILL = 1500;

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Runs the writer over `dataDir`, kills it with SIGKILL mid-stream, returns the last acked n per item. */
async function writeAndKill(dataDir: string): Promise<Map<number, number>> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/faults/fixtures/dynamo-writer.ts', dataDir], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  const acked = new Map<number, number>();
  let acks = 0;
  let partial = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      const lines = (partial + c.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^ack (\d+) (\d+)$/.exec(line);
        if (!m) continue;
        acked.set(Number(m[1]), Math.max(acked.get(Number(m[1])) ?? 0, Number(m[2])));
        if (++acks === ACKS_BEFORE_KILL) {
          child.kill('SIGKILL');
          resolve();
        }
      }
    });
    void exited.then((how) => reject(new Error(`the writer exited (${String(how)}) before the kill:\n${stderr}`)));
  });
  expect(await exited).toBe('SIGKILL');
  return acked;
}

async function scanAll(db: DynamoDBDocumentClient, indexName?: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await db.send(
      new ScanCommand({
        TableName: topology.table.name,
        IndexName: indexName,
        ExclusiveStartKey: startKey,
        ConsistentRead: !indexName,
      }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items;
}

type LevelWrite = (this: unknown, ...args: unknown[]) => Promise<unknown>;
const { ClassicLevel } = createRequire(import.meta.url)('classic-level') as {
  ClassicLevel: { prototype: Record<'_put' | '_del' | '_batch', LevelWrite> };
};

/**
 * Until disarmed, lets the first `survive` LevelDB writes of this process through and silently
 * drops every later one: on disk, exactly what a process killed after its `survive`-th write
 * leaves (each LevelDB write, a batch included, is atomic in its log).
 */
function crashAfter(survive: number): { writes: () => number; disarm: () => void } {
  const originals = {
    _put: ClassicLevel.prototype._put,
    _del: ClassicLevel.prototype._del,
    _batch: ClassicLevel.prototype._batch,
  };
  let writes = 0;
  for (const name of ['_put', '_del', '_batch'] as const) {
    const original = originals[name];
    ClassicLevel.prototype[name] = function (this: unknown, ...args: unknown[]) {
      if (writes++ >= survive) return Promise.resolve();
      return original.apply(this, args);
    };
  }
  return { writes: () => writes, disarm: () => Object.assign(ClassicLevel.prototype, originals) };
}

async function waitUntilActive(client: DynamoDBClient): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: topology.table.name }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (Date.now() > deadline) throw new Error(`table still ${String(Table?.TableStatus)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const KEY = { pk: 'CRASH#point', sk: 'ITEM' };
const openAt = (label: string) => ({ openPk: 'OPEN#0', openSk: `2026-01-01T00:00:00.000Z#${label}` });

describe('the local DynamoDB killed mid-write', () => {
  const writes: [string, (db: DynamoDBDocumentClient) => Promise<unknown>][] = [
    [
      'PutItem of a new item',
      (db) => db.send(new PutCommand({ TableName: topology.table.name, Item: { ...KEY, n: 2, ...openAt('B') } })),
    ],
    [
      'UpdateItem moving its open-index key',
      (db) =>
        db.send(
          new UpdateCommand({
            TableName: topology.table.name,
            Key: KEY,
            UpdateExpression: 'SET n = :n, openSk = :osk',
            ExpressionAttributeValues: { ':n': 2, ':osk': openAt('B').openSk },
          }),
        ),
    ],
    ['DeleteItem', (db) => db.send(new DeleteCommand({ TableName: topology.table.name, Key: KEY }))],
  ];

  it.each(writes)('leaves item and open index in step wherever a crash cuts a %s', async (what, write) => {
    const outcomes: string[] = [];
    for (let survive = 0; survive <= 3; survive++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'hookrelay-dynamo-point-'));
      dirs.push(dataDir);
      let emulators = await startEmulators({ dataDir });
      let client = dynamoClient(emulators.endpoints.dynamodb);
      try {
        await provision(emulators.endpoints);
        // The table turns ACTIVE on a timer, with a write of its own: before any crash is armed.
        await waitUntilActive(client);
        const db = DynamoDBDocumentClient.from(client);
        if (what !== 'PutItem of a new item') {
          await db.send(new PutCommand({ TableName: topology.table.name, Item: { ...KEY, n: 1, ...openAt('A') } }));
        }
        const crash = crashAfter(survive);
        try {
          await write(db);
        } finally {
          crash.disarm();
        }
        // The harness saw the write (a vacuous pass otherwise).
        expect(crash.writes()).toBeGreaterThan(0);
      } finally {
        client.destroy();
        await emulators.stop();
      }

      emulators = await startEmulators({ dataDir });
      client = dynamoClient(emulators.endpoints.dynamodb);
      try {
        const db = DynamoDBDocumentClient.from(client);
        const item = (await scanAll(db)).find((i) => i.pk === KEY.pk);
        const entries = (await scanAll(db, topology.table.indexes.open.name)).filter((i) => i.pk === KEY.pk);
        const state = item ? `item n=${String(item.n)}` : 'no item';
        const consistent = item ? entries.length === 1 && entries[0]?.openSk === item.openSk : entries.length === 0;
        if (!consistent)
          outcomes.push(
            `crash after ${survive} write(s): ${state}, index entries ${JSON.stringify(entries.map((e) => e.openSk))}`,
          );
        // Three writes are all dynalite ever made of one item write: nothing cut, the write happened.
        if (survive === 3) expect(state).toBe(what === 'DeleteItem' ? 'no item' : 'item n=2');
      } finally {
        client.destroy();
        await emulators.stop();
      }
    }
    expect(outcomes).toEqual([]);
  });

  it('keeps every acknowledged write and every item in step with its open-index entry', async () => {
    const problems: string[] = [];
    for (let kill = 1; kill <= KILLS; kill++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'hookrelay-dynamo-crash-'));
      dirs.push(dataDir);
      const acked = await writeAndKill(dataDir);

      const emulators = await startEmulators({ dataDir });
      try {
        await provision(emulators.endpoints);
        const client = dynamoClient(emulators.endpoints.dynamodb);
        const db = DynamoDBDocumentClient.from(client);
        const items = (await scanAll(db)).filter((i) => String(i.pk).startsWith('CRASH#'));
        const entries = (await scanAll(db, topology.table.indexes.open.name)).filter((i) =>
          String(i.pk).startsWith('CRASH#'),
        );
        client.destroy();

        const byPk = new Map(items.map((i) => [String(i.pk), i]));
        const indexed = new Set(entries.map((e) => `${String(e.pk)} ${String(e.openSk)}`));
        for (const [item, n] of acked) {
          const stored = byPk.get(`CRASH#${item}`);
          if (!stored || Number(stored.n) < n)
            problems.push(`kill ${kill}: item ${item} acked n=${n}, stored ${String(stored?.n)}`);
        }
        for (const i of items) {
          if (!indexed.has(`${String(i.pk)} ${String(i.openSk)}`))
            problems.push(`kill ${kill}: ${String(i.pk)} n=${String(i.n)} has no open-index entry`);
        }
        for (const e of entries) {
          const i = byPk.get(String(e.pk));
          if (i?.openSk !== e.openSk)
            problems.push(
              `kill ${kill}: stray open-index entry ${String(e.pk)} n=${String(e.n)} (item at n=${String(i?.n)})`,
            );
        }
      } finally {
        await emulators.stop();
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);
});
