/**
 * `npm start` as a user runs it: the entry point in a child process, with the real handlers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

function start(env: Record<string, string>) {
  // tsx's own binary, not npx/npm: signals then reach the entry point directly.
  const child = spawn(process.execPath, ['node_modules/tsx/dist/cli.mjs', 'infra/local/main.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

    const text = await banner(run.out);
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

  it('prints every configuration problem and exits 1', async () => {
    const run = start({ PORT: '0', HOOKRELAY_RETRY_SCHEDULE: 'often', HOOKRELAY_ALLOW_PRIVATE_TARGETS: 'maybe' });

    expect(await run.exited).toBe(1);
    expect(run.err()).toMatch(/HOOKRELAY_RETRY_SCHEDULE/);
    expect(run.err()).toMatch(/HOOKRELAY_ALLOW_PRIVATE_TARGETS/);
  });
});
