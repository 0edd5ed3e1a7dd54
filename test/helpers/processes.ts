/**
 * Child processes for the fault tests: the local stack run for real, so that a SIGKILL kills it.
 * One home for starting one, reading its output, waiting for a line, and killing every one left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A port that was free a moment ago on 127.0.0.1 (for a process that must keep it across restarts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

export interface Child {
  process: ChildProcess;
  /** The exit signal or code. */
  exited: Promise<NodeJS.Signals | number | null>;
  /** Everything it wrote so far, stdout and stderr together. */
  output: () => string;
  /** Resolves once the output holds `text` `times` times (counted from the start). */
  waitFor(text: string, what: string, times?: number, timeoutMs?: number): Promise<void>;
  /** Writes a line to its stdin. */
  send(line: string): void;
}

/**
 * Runs a TypeScript entry point as one process (node --import tsx, not the tsx CLI, which would
 * run it in a grandchild that a SIGKILL of its parent leaves alive).
 */
export function spawnTs(args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  return {
    process: child,
    exited,
    output: () => output,
    async waitFor(text, what, times = 1, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (output.split(text).length - 1 < times) {
        if (child.exitCode !== null || Date.now() > deadline)
          throw new Error(`the process did not show ${what}:\n${output.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    send: (line) => child.stdin?.write(`${line}\n`),
  };
}

/** SIGKILLs every child still running and waits until all have exited. */
export async function killAll(children: Child[]): Promise<void> {
  for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
}
