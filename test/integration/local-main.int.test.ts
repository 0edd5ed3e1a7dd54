/**
 * `npm start` as a user runs it: the entry point in a child process, with the real handlers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { run as cli } from '../../cli/hookrelay';
import { freePort } from '../helpers/processes';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function start(env: Record<string, string>, opts: { cwd?: string; unset?: string[] } = {}) {
  const fullEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const name of opts.unset ?? []) delete fullEnv[name];
  // tsx's own binary, not npx/npm: signals then reach the entry point directly.
  const child = spawn(
    process.execPath,
    [join(REPO, 'node_modules/tsx/dist/cli.mjs'), join(REPO, 'infra/local/main.ts')],
    {
      env: fullEnv,
      cwd: opts.cwd ?? REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr };
}

async function banner(out: () => string, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (!/Ctrl-C stops/.test(out())) {
    if (Date.now() > deadline) throw new Error(`no banner within ${timeoutMs} ms:\n${out()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return out();
}

describe('npm start', () => {
  it('prints the API URL and key, serves /health, and exits 0 on SIGTERM', async () => {
    const run = start({ PORT: '0', HOOKRELAY_API_KEY: 'hr_admin_main_test' });

    const text = await banner(run.out, 30_000);
    const apiUrl = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
    const health = await fetch(`${apiUrl}/health`);
    run.child.kill('SIGTERM');

    expect(text).toContain('hr_admin_main_test');
    expect(text).toContain(`AWS_ENDPOINT_URL_EVENTBRIDGE=${apiUrl}`);
    expect(text).toMatch(/in memory/);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    expect(await run.exited).toBe(0);
  });

  it('writes its endpoints where the CLI finds them, on the SQS port asked for, quietly, and removes them on stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookrelay-main-'));
    try {
      const sqsPort = await freePort();
      // Without the variable the test environment sets: the SDK would print its Node.js notice.
      const run = start(
        { PORT: '0', HOOKRELAY_SQS_PORT: String(sqsPort) },
        { cwd: dir, unset: ['HOOKRELAY_API_KEY', 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] },
      );
      const text = await banner(run.out, 30_000);
      const apiUrl = /API\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
      const key = /Admin key\s+(\S+)/.exec(text)?.[1] ?? '';
      expect(text).toContain(`SQS        http://127.0.0.1:${sqsPort}`);

      const fileText = readFileSync(join(dir, '.hookrelay', 'local.json'), 'utf8');
      const file = JSON.parse(fileText) as Record<string, unknown>;
      expect(file).toMatchObject({ apiUrl, sqsEndpoint: `http://127.0.0.1:${sqsPort}`, eventsUrl: apiUrl });
      expect(fileText).not.toContain(key);
      const keyFile = String(file.apiKeyFile);
      expect(readFileSync(keyFile, 'utf8').trim()).toBe(key);
      expect(statSync(keyFile).mode & 0o077).toBe(0);

      // The CLI, run there with nothing but the command: the API and the DLQs of this stack.
      let out = '';
      const io = { stdout: { write: (t: string) => (out += t) }, stderr: { write: (t: string) => (out += t) } };
      expect(await cli(['--json', 'apps', 'create', '--name', 'found'], { ...io, env: {}, cwd: dir }), out).toBe(0);
      expect(await cli(['--json', 'dlq', 'list'], { ...io, env: {}, cwd: dir }), out).toBe(0);

      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect(existsSync(join(dir, '.hookrelay', 'local.json'))).toBe(false);
      expect(existsSync(keyFile)).toBe(false);
      expect(run.err()).not.toMatch(/NodeVersionSupportWarning|will require Node/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('prints every configuration problem and exits 1', async () => {
    const run = start({ PORT: '0', HOOKRELAY_RETRY_SCHEDULE: 'often', HOOKRELAY_ALLOW_PRIVATE_TARGETS: 'maybe' });

    expect(await run.exited).toBe(1);
    expect(run.err()).toMatch(/HOOKRELAY_RETRY_SCHEDULE/);
    expect(run.err()).toMatch(/HOOKRELAY_ALLOW_PRIVATE_TARGETS/);
  });
});
