/**
 * What the CLI talks to besides AWS and the API: its output streams, its input, its environment.
 * Passed in rather than taken from `process`, so tests run commands in-process and read what they
 * printed, and so that every command writes through one place.
 */
import { createInterface } from 'node:readline/promises';

/** The part of a writable stream the CLI uses; a test passes `{ write(s) { out += s } }`. */
export interface Output {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface CliIO {
  stdout: Output;
  stderr: Output;
  /** Variables read for HOOKRELAY_API_URL / HOOKRELAY_API_KEY; default process.env. */
  env?: Record<string, string | undefined>;
  /**
   * Where to look for a running local stack's endpoints (.hookrelay/local.json, here or above);
   * none when absent (tests), the working directory for the executable.
   */
  cwd?: string;
  /** Whether a person is there to answer a question; default: stdin and stderr are terminals. */
  interactive?: boolean;
  /** Asks a yes/no question; default: a readline prompt on stdin/stderr. */
  confirm?: (question: string) => Promise<boolean>;
  /** The real process stream for progress bars (cli-progress needs cursor control); default none. */
  progressStream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    confirm: promptYesNo,
    progressStream: process.stderr,
  };
}

async function promptYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Bad invocation: a missing or malformed option, an unknown command. Exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation was tried and did not succeed (an AWS or API error, a failed delivery). Exit code 1. */
export class OperationError extends Error {
  override readonly name = 'OperationError';
}

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Writes lines: `out.line('x')`, `out.json({...})` (one JSON document per line). */
export function printer(stream: Output) {
  return {
    line(text = '') {
      stream.write(`${text}\n`);
    },
    json(value: unknown) {
      stream.write(`${JSON.stringify(value)}\n`);
    },
  };
}
