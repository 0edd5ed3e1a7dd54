/**
 * Helpers for the local stack's own tests: the stack started with recording fake handlers, so
 * these tests check the runtime (event shapes, polling, redrive, PutEvents) and not the product.
 */
import type { Context } from 'aws-lambda';
import { startLocalStack, type Handlers, type LocalStack, type LocalStackOptions } from '../../infra/local/stack';

/** A fake handler that records each event and its Context, and answers with `impl`. */
export interface Recorder<E, R> {
  calls: E[];
  contexts: Context[];
  handler: (event: E, context: Context) => Promise<R>;
}

export function recorder<E, R>(impl: (event: E, call: number) => R | Promise<R>): Recorder<E, R> {
  const calls: E[] = [];
  const contexts: Context[] = [];
  return {
    calls,
    contexts,
    handler: async (event, context) => {
      calls.push(event);
      contexts.push(context);
      return impl(event, calls.length);
    },
  };
}

/** Fakes for every function, so no test here loads the real handlers. */
export function fakeHandlers(overrides: Partial<Handlers> = {}): Handlers {
  return {
    api: async () => ({ statusCode: 200, body: '{"fake":true}' }),
    delivery: async () => ({ batchItemFailures: [] }),
    ingest: async () => {},
    housekeeping: async () => ({}),
    ...overrides,
  };
}

/** The stack on free ports, silent, housekeeping only on demand, every handler fake. */
export function startFakeStack(opts: LocalStackOptions = {}): Promise<LocalStack> {
  return startLocalStack({
    port: 0,
    quiet: true,
    housekeeping: false,
    ...opts,
    handlers: fakeHandlers(opts.handlers),
  });
}

/** Resolves with the probe's first truthy value; fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  what: string,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
