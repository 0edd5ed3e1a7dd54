/**
 * The functions of the template, run as Lambda runs them, in one of two ways:
 *
 * - `assembly`: each function's bundled module from the cloud assembly (`asset.<hash>/index.mjs`,
 *   its `Handler`), in a worker thread of its own with its own environment, so that each sees
 *   exactly the variables its template gives it and shares no module state with another. A
 *   worker that dies (an uncaught error) is replaced at the next invocation, like a sandbox.
 * - `src`: the TypeScript handler modules in this process (quick edits, tests that inject fake
 *   handlers or instrument the real ones). The process environment is the union of the
 *   functions' environments, which must then agree.
 *
 * Both enforce the template's timeout the way Lambda does: the invocation fails; the code that
 * overran is not stopped, only no longer waited for.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { InvocationTimeoutError, lambdaContext } from './lambda';
import { LocalStackError } from './errors';
import type { Log } from './log';
import type { FunctionSpec } from './template';

export interface LocalFunction {
  spec: FunctionSpec;
  name: string;
  /** Its local ARN (what its Context says); the record of calls names the deployed one. */
  arn: string;
  /** Invokes synchronously (RequestResponse); rejects on an error or a timeout. */
  invoke(event: unknown, timeoutMs?: number): Promise<unknown>;
  stop(): Promise<void>;
}

export type AnyHandler = (event: never, context: never) => Promise<unknown>;

function withTimeout<T>(name: string, timeoutMs: number, run: (deadline: number) => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeoutError(name, timeoutMs)), timeoutMs);
  });
  return Promise.race([Promise.resolve().then(() => run(deadline)), timeout]).finally(() => clearTimeout(timer));
}

/** A handler of this process (a source module or a test's fake). */
export function inProcessFunction(spec: FunctionSpec, name: string, arn: string, handler: AnyHandler): LocalFunction {
  return {
    spec,
    name,
    arn,
    invoke: (event, timeoutMs = spec.timeoutS * 1000) =>
      withTimeout(name, timeoutMs, (deadline) =>
        (handler as (e: unknown, c: unknown) => Promise<unknown>)(
          event,
          lambdaContext({ name, arn, memoryMb: spec.memoryMb }, deadline),
        ),
      ),
    stop: async () => {},
  };
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** A bundled function of the assembly in a worker thread, with `env` as its whole environment. */
export function workerFunction(opts: {
  spec: FunctionSpec;
  name: string;
  arn: string;
  assemblyDir: string;
  env: Record<string, string>;
  log: Log;
}): LocalFunction & { ready(): Promise<void> } {
  const { spec, name, arn } = opts;
  if (!spec.assetDir) throw new LocalStackError(`function ${spec.id} has no bundled code in the assembly`);
  const dot = spec.handler.lastIndexOf('.');
  const file = join(opts.assemblyDir, spec.assetDir, `${spec.handler.slice(0, dot)}.mjs`);
  const exportName = spec.handler.slice(dot + 1);

  let current: { worker: Worker; ready: Promise<void>; pending: Map<number, Pending> } | undefined;
  let nextId = 0;
  let stopped = false;

  const start = () => {
    const pending = new Map<number, Pending>();
    const worker = new Worker(new URL('./function-worker.mjs', import.meta.url), {
      workerData: { file, exportName, fn: { name, arn, memoryMb: spec.memoryMb } },
      env: opts.env,
      // The handlers' own logs go to this process's output as they would to CloudWatch.
      stdout: false,
      stderr: false,
    });
    const ready = new Promise<void>((resolve, reject) => {
      worker.once('message', (m: { ready?: boolean }) => (m.ready ? resolve() : undefined));
      worker.once('error', reject);
    });
    ready.catch(() => {});
    const self = { worker, ready, pending };
    const fail = (err: unknown) => {
      for (const p of pending.values()) p.reject(err);
      pending.clear();
      if (current === self) current = undefined;
    };
    worker.on(
      'message',
      (m: {
        id?: number;
        ok?: boolean;
        result?: unknown;
        error?: { name: string; message: string; stack?: string };
      }) => {
        if (m.id === undefined) return;
        const p = pending.get(m.id);
        pending.delete(m.id);
        if (!p) return;
        if (m.ok) p.resolve(m.result);
        else p.reject(Object.assign(new Error(m.error?.message), { name: m.error?.name, stack: m.error?.stack }));
      },
    );
    worker.on('error', (err) => {
      if (!stopped) opts.log.error(`function ${name} crashed; the next invocation starts it again`, err);
      fail(err);
    });
    worker.on('exit', (code) => fail(new Error(`function ${name} exited (code ${code})`)));
    // A worker does not keep the process alive by itself: stop() ends it.
    worker.unref();
    current = self;
    return self;
  };

  return {
    spec,
    name,
    arn,
    async ready() {
      await (current ?? start()).ready;
    },
    invoke(event, timeoutMs = spec.timeoutS * 1000) {
      if (stopped) return Promise.reject(new Error(`function ${name} is stopped`));
      return withTimeout(name, timeoutMs, async (deadline) => {
        const w = current ?? start();
        await w.ready;
        const id = nextId++;
        return new Promise((resolve, reject) => {
          w.pending.set(id, { resolve, reject });
          w.worker.postMessage({ id, event, deadline });
        });
      });
    },
    async stop() {
      stopped = true;
      const w = current;
      current = undefined;
      if (w) await w.worker.terminate();
    },
  };
}
