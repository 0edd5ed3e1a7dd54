/**
 * The receiver people already run: adnanh/webhook (Debian's `webhook` package), a hook whose
 * `payload-hmac-sha256` trigger rule holds the endpoint's chosen secret and whose command writes
 * the payload it was given to a file. An endpoint with the hmac-sha256 scheme gets through and the
 * command runs; a wrong secret is refused by the receiver, recorded and retried, until a PATCH
 * gives the right one (the old secret signs beside it, comma-separated, which the receiver accepts).
 *
 * The webhook binary is not something `npm ci` brings: `.ci/run` installs it. Without it this file
 * says so on stderr and in its one test's name, and checks nothing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, useSystem } from '../helpers/e2e';

const SECRET = 'the-hook-owner-chose-this-secret';

/** The adnanh/webhook binary, if installed (another program named `webhook` does not count). */
function findWebhook(): { path: string; version: string } | { missing: string } {
  const found = spawnSync('webhook', ['-version'], { encoding: 'utf8' });
  if (found.error) return { missing: `the webhook binary is not on PATH (${(found.error as { code?: string }).code})` };
  const version = /webhook version (\d+\.\d+\.\d+)/.exec(`${found.stdout}${found.stderr}`)?.[1];
  if (!version) return { missing: 'the webhook on PATH is not adnanh/webhook (no "webhook version" line)' };
  return { path: 'webhook', version };
}

const webhook = findWebhook();

if ('missing' in webhook) {
  describe('the adnanh/webhook receiver', () => {
    it(`DID NOT RUN: ${webhook.missing}; install Debian's webhook package (apt-get install webhook), as .ci/run does`, () => {
      process.stderr.write(
        `\n[adnanh-webhook.e2e] DID NOT RUN: ${webhook.missing}. Install it with: apt-get install -y webhook\n`,
      );
    });
  });
} else {
  const bin = webhook.path;
  // Retries a second apart, and enough of them to outlast the 5 s for which a delivery worker
  // may reuse the endpoint it read before the PATCH (events sent after a PATCH see it at once).
  const system = useSystem({ HOOKRELAY_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1,1,1,1,1' });
  let dir = '';
  let child: ChildProcess | undefined;
  let port = 0;
  const log: string[] = [];

  const freePort = () =>
    new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.on('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });

  /** Starts the receiver on a free port; tries again if another process took the port first. */
  async function startWebhook(hooksFile: string): Promise<void> {
    for (let tries = 0; tries < 5; tries++) {
      port = await freePort();
      const proc = spawn(bin, ['-hooks', hooksFile, '-ip', '127.0.0.1', '-port', String(port), '-verbose'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const onData = (b: Buffer) => log.push(b.toString('utf8'));
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      const up = await waitUntil(async () => {
        if (proc.exitCode !== null) return false;
        const r = await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined);
        return r !== undefined;
      }, 5_000);
      if (up) {
        child = proc;
        return;
      }
      proc.kill();
    }
    throw new Error(`webhook did not start: ${log.join('')}`);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hookrelay-adnanh-'));
    const script = join(dir, 'record.sh');
    // The hook's command: the payload (argument 1) into a file named after webhook-id (argument 2).
    writeFileSync(script, '#!/bin/sh\nprintf \'%s\' "$1" > "$OUT_DIR/$2.json"\n');
    chmodSync(script, 0o755);
    const hooks = [
      {
        id: 'relay',
        'execute-command': script,
        'command-working-directory': dir,
        'pass-arguments-to-command': [{ source: 'entire-payload' }, { source: 'header', name: 'webhook-id' }],
        'pass-environment-to-command': [{ source: 'string', envname: 'OUT_DIR', name: dir }],
        'trigger-rule': {
          match: {
            type: 'payload-hmac-sha256',
            secret: SECRET,
            parameter: { source: 'header', name: 'X-Hub-Signature-256' },
          },
        },
      },
    ];
    writeFileSync(join(dir, 'hooks.json'), JSON.stringify(hooks));
    await startWebhook(join(dir, 'hooks.json'));
    process.stderr.write(`[adnanh-webhook.e2e] adnanh/webhook ${webhook.version} on port ${port}\n`);
  });

  afterAll(() => {
    child?.kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const hookUrl = () => `http://${system.target.receiverHost}:${port}/hooks/relay`;
  const ran = (eventId: string) => join(dir, `${eventId}.json`);

  const attempts = (appId: string, eventId: string) => system.api.attempts(appId, eventId);

  describe(`the adnanh/webhook receiver (${webhook.version})`, () => {
    it('runs the hook command with the delivered payload when the endpoint signs hmac-sha256 with the chosen secret', async () => {
      const appId = await system.api.createApp();
      const ep = await system.api.createEndpoint(appId, hookUrl(), {
        signature: { scheme: 'hmac-sha256' },
        secret: SECRET,
      });
      expect(ep.secret).toBe(SECRET);
      const sent = await system.api.sendEvent(appId, { type: 'deploy.requested', data: { ref: 'main', n: 7 } });

      const status = await system.api.waitForStatus(appId, sent.id, (s) => s.deliveries[0]?.status === 'succeeded');
      expect(status.deliveries[0]).toMatchObject({ attempts: 1, lastStatusCode: 200 });
      await waitUntil(async () => existsSync(ran(sent.id)), 5_000);
      // The receiver re-serializes the payload (Go sorts keys): compare as JSON.
      expect(JSON.parse(readFileSync(ran(sent.id), 'utf8'))).toEqual({
        type: 'deploy.requested',
        timestamp: sent.timestamp,
        data: { ref: 'main', n: 7 },
      });
    });

    it('is refused for a wrong secret; hookrelay records and retries it, and a PATCHed secret gets through', async () => {
      const appId = await system.api.createApp();
      const ep = await system.api.createEndpoint(appId, hookUrl(), {
        signature: { scheme: 'hmac-sha256', header: 'X-Hub-Signature-256', prefix: 'sha256=' },
        secret: 'not-the-secret-the-hook-holds',
      });
      const sent = await system.api.sendEvent(appId, { type: 'deploy.requested', data: { ref: 'v2' } });

      await waitUntil(async () => (await attempts(appId, sent.id)).length >= 2, 15_000);
      const failed = await attempts(appId, sent.id);
      expect(failed.slice(0, 2)).toEqual([
        expect.objectContaining({ attempt: 1, statusCode: 500, outcome: 'retryable', error: 'HTTP 500' }),
        expect.objectContaining({ attempt: 2, statusCode: 500, outcome: 'retryable', error: 'HTTP 500' }),
      ]);
      expect(log.join('')).toContain('invalid payload signatures');
      expect(existsSync(ran(sent.id))).toBe(false);
      const retrying = await system.api.eventStatus(appId, sent.id);
      expect(retrying.deliveries[0]?.status).toBe('retrying');

      // The right secret, by PATCH: from the next attempt both sign, comma-separated.
      const patched = await system.api.hr.PATCH('/v1/apps/{appId}/endpoints/{endpointId}', {
        params: { path: { appId, endpointId: ep.id } },
        body: { secret: SECRET },
      });
      expect(patched.response.status).toBe(200);
      const done = await system.api.waitForStatus(
        appId,
        sent.id,
        (s) => s.deliveries[0]?.status === 'succeeded',
        20_000,
      );
      expect(done.deliveries[0]!.attempts).toBeGreaterThanOrEqual(3);
      await waitUntil(async () => existsSync(ran(sent.id)), 5_000);
      expect(JSON.parse(readFileSync(ran(sent.id), 'utf8'))).toMatchObject({ data: { ref: 'v2' } });
    });
  });
}

async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await sleep(50);
  }
  return false;
}
