/**
 * Loads the real Lambda handlers, the same modules the CDK stack bundles. Called only after the
 * stack has set process.env: the handlers read their configuration on first use, and their
 * SDK clients pick up the emulator endpoints from the environment.
 */
import type { FunctionName, Handlers } from './lambda';

// Dynamic imports, so nothing of the functions loads before the environment is set. Typed, so
// tsc checks each real handler against the signature the runtime calls it with.
const modules: { [F in FunctionName]: () => Promise<Handlers[F]> } = {
  api: async () => (await import('../../functions/handlers/api')).handler,
  delivery: async () => (await import('../../functions/handlers/delivery')).handler,
  ingest: async () => (await import('../../functions/handlers/ingest')).handler,
  housekeeping: async () => (await import('../../functions/handlers/housekeeping')).handler,
};

export interface LoadedHandlers {
  handlers: Handlers;
  /**
   * Drops what the real handlers built once per process (services, SDK clients bound to this
   * stack's endpoints, open sockets), so the process can stop cleanly or start another stack.
   */
  reset(): Promise<void>;
}

/** The injected handlers, completed with the real ones for every function not injected. */
export async function loadHandlers(injected: Partial<Handlers> = {}): Promise<LoadedHandlers> {
  const names = Object.keys(modules) as FunctionName[];
  const usesReal = names.some((name) => injected[name] === undefined);
  const reset = async () => {
    if (!usesReal) return;
    const [{ resetWiringForTests }, { resetClientsForTests }] = await Promise.all([
      import('../../functions/wiring'),
      import('../../functions/shared/aws-clients'),
    ]);
    await resetWiringForTests();
    resetClientsForTests();
  };
  // A stack started earlier in this process may have left services bound to its endpoints.
  await reset();
  const handlers: Partial<Handlers> = {};
  await Promise.all(
    names.map(async (name) => {
      (handlers as Record<FunctionName, unknown>)[name] = injected[name] ?? (await modules[name]());
    }),
  );
  return { handlers: handlers as Handlers, reset };
}
