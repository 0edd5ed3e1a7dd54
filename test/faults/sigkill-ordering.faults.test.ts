/**
 * Ordered delivery survives a SIGKILL: `npm start` runs as a child process over a data dir, a
 * strict endpoint receives 20 keys' sequences (each event answered 500 once, then 200, so every
 * key is held behind a retrying head at any moment), and the whole stack is killed in the middle.
 * Restarted on the same data dir (its start-up recover pass rebuilds each key's line from the
 * table, in accept order), every accepted event must arrive, and within each key no event may be
 * attempted before the previous one succeeded. Duplicates (a webhook sent just before the kill,
 * sent again) are allowed by at-least-once delivery and reported.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, killAll, spawnTs, type Child } from '../helpers/processes';
import { testApi } from '../helpers/target';
import { FaultReceiver } from './fault-receiver';

const API_KEY = 'hr_admin_sigkill_ordering';
const KEYS = 20;
const PER_KEY = 8;
/** The kill lands once this many webhooks were answered 2xx: mid-way through the sequences. */
const KILL_AFTER_DELIVERED = 60;
const RECOVERY_DEADLINE_MS = 90_000;

const children: Child[] = [];
let receiver: FaultReceiver;
let dataDir: string;

beforeAll(async () => {
  receiver = await new FaultReceiver().start();
  dataDir = mkdtempSync(join(tmpdir(), 'hookrelay-sigkill-ordering-'));
});

afterAll(async () => {
  await killAll(children);
  await receiver?.stop();
  if (dataDir && !process.env.FAULTS_KEEP_DATA) rmSync(dataDir, { recursive: true, force: true });
  else if (dataDir) console.log(`sigkill-ordering: data dir kept at ${dataDir}`);
});

async function startStack(port: number): Promise<Child> {
  const c = spawnTs(['infra/local/main.ts'], {
    PORT: String(port),
    HOOKRELAY_DATA_DIR: dataDir,
    HOOKRELAY_API_KEY: API_KEY,
    HOOKRELAY_RETRY_SCHEDULE: '1,1,2',
    HOOKRELAY_HOUSEKEEPING_RATE_S: '1',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  });
  children.push(c);
  // Generous: a loaded machine starts it slowly.
  await c.waitFor('Ctrl-C stops', 'that it started', 1, 60_000);
  return c;
}

const delivered = (path: string) =>
  receiver.on(path).filter((r) => typeof r.answer === 'number' && r.answer >= 200 && r.answer < 300).length;

describe('SIGKILL in the middle of strict sequences', () => {
  it('delivers every key complete and in order after a restart on the same data dir', async () => {
    const port = await freePort();
    const api = testApi({ apiUrl: `http://127.0.0.1:${port}`, apiKey: API_KEY });
    let stack = await startStack(port);

    const appId = await api.createApp('sigkill-ordering');
    const path = '/strict';
    const strict = await api.createEndpoint(appId, receiver.route(path, [500, 200]), { ordering: 'strict' });

    // Each key's events one after the other (each answered 202 before the next): its accept order.
    const order = new Map<string, string[]>();
    await Promise.all(
      Array.from({ length: KEYS }, async (_, k) => {
        const key = `key-${k}`;
        const ids: string[] = [];
        for (let n = 0; n < PER_KEY; n++) {
          const id = `${key}-${n}`;
          await api.sendEvent(appId, { id, type: 'order.updated', data: { n }, orderingKey: key });
          ids.push(id);
        }
        order.set(key, ids);
      }),
    );

    // Kill mid-way: some keys part done, each with a head waiting for its retry or in flight.
    const deadline = Date.now() + 60_000;
    while (delivered(path) < KILL_AFTER_DELIVERED) {
      if (Date.now() > deadline) throw new Error(`only ${delivered(path)} webhooks delivered before the kill`);
      await new Promise((r) => setTimeout(r, 50));
    }
    stack.process.kill('SIGKILL');
    expect(await stack.exited).toBe('SIGKILL');
    const beforeKill = delivered(path);

    const restartedAt = Date.now();
    stack = await startStack(port);
    const all = [...order.values()].flat();
    const pending = new Set(all);
    while (pending.size > 0) {
      if (Date.now() - restartedAt > RECOVERY_DEADLINE_MS) {
        throw new Error(`${pending.size} event(s) unfinished ${RECOVERY_DEADLINE_MS} ms after the restart`);
      }
      for (const id of [...pending]) {
        const s = await api.eventStatus(appId, id);
        const d = s.deliveries.find((x) => x.endpointId === strict.id);
        if (d && ['succeeded', 'failed', 'skipped'].includes(d.status)) {
          expect(d.status, `${id}`).toBe('succeeded');
          pending.delete(id);
        }
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
    }

    // Nothing lost, and per key: every attempt of an event after its predecessor's first success.
    const requests = receiver.on(path);
    const firstSuccess = new Map<string, number>();
    const firstAttempt = new Map<string, number>();
    requests.forEach((r, i) => {
      if (!firstAttempt.has(r.eventId)) firstAttempt.set(r.eventId, i);
      if (typeof r.answer === 'number' && r.answer < 300 && !firstSuccess.has(r.eventId))
        firstSuccess.set(r.eventId, i);
    });
    const lost = all.filter((id) => !firstSuccess.has(id));
    const reordered: string[] = [];
    for (const ids of order.values()) {
      for (let n = 1; n < ids.length; n++) {
        const before = firstSuccess.get(ids[n - 1]!) ?? Infinity;
        const attempts = requests.map((r, i) => (r.eventId === ids[n] ? i : -1)).filter((i) => i >= 0);
        if (attempts.some((i) => i < before)) reordered.push(`${ids[n]} before ${ids[n - 1]} succeeded`);
      }
    }
    const successes = requests.filter((r) => typeof r.answer === 'number' && r.answer < 300).length;
    console.log(
      `sigkill-ordering: keys=${KEYS} events=${all.length} delivered_before_kill=${beforeKill} ` +
        `requests=${requests.length} successes=${successes} duplicates=${successes - all.length} ` +
        `recovery_ms=${Date.now() - restartedAt} lost=${lost.length} reordered=${reordered.length}`,
    );
    expect(lost).toEqual([]);
    expect(reordered).toEqual([]);
    expect(beforeKill).toBeLessThan(all.length);
  }, 240_000);
});
