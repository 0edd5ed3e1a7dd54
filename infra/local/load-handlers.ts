/**
 * Loads the real Lambda handlers, the same modules the CDK stack bundles, over one container of
 * the stack's own (functions/container.ts): each handler module's factory is called with it, as
 * its Lambda entry point is called with the execution environment's. Called only after the stack
 * has set process.env: the container reads its configuration from it on the first invocation,
 * the SDK clients pick up the emulator endpoints from it, and Powertools its log level.
 */
import type { Container } from '../../functions/container';
import type { FunctionName, Handlers } from './lambda';

// Dynamic imports, so nothing of the functions loads before the environment is set. Typed, so
// tsc checks each real handler against the signature the runtime calls it with.
const factories: { [F in FunctionName]: () => Promise<(container: () => Container) => Handlers[F]> } = {
  api: async () => (await import('../../functions/handlers/api')).createApiHandler,
  delivery: async () => (await import('../../functions/handlers/delivery')).createDeliveryHandler,
  ingest: async () => (await import('../../functions/handlers/ingest')).createIngestHandler,
  housekeeping: async () => (await import('../../functions/handlers/housekeeping')).createHousekeepingHandler,
};

export interface LoadedHandlers {
  handlers: Handlers;
  /** Closes the container the real handlers share (its services, SDK clients and open sockets). */
  close(): Promise<void>;
}

/** The injected handlers, completed with the real ones for every function not injected. */
export async function loadHandlers(injected: Partial<Handlers> = {}): Promise<LoadedHandlers> {
  const { lazyContainer } = await import('../../functions/container');
  // One process, one environment: the stack's, as it has just set it. The container is built on
  // the first invocation, like a Lambda's.
  const env = { ...process.env };
  const container = lazyContainer(() => env);
  const names = Object.keys(factories) as FunctionName[];
  const handlers: Partial<Handlers> = {};
  await Promise.all(
    names.map(async (name) => {
      (handlers as Record<FunctionName, unknown>)[name] = injected[name] ?? (await factories[name]())(container.get);
    }),
  );
  return { handlers: handlers as Handlers, close: () => container.close() };
}
