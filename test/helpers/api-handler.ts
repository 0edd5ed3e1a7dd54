/**
 * The real api function for tests that call it directly (not over HTTP): the handler module's
 * factory over a container of the test's own, as the local runtime builds it for a stack.
 */
import type { Handlers } from '../../infra/local/lambda';

/**
 * The routes the api function serves, as its router holds them (methods and paths; nothing is
 * served through them here).
 */
export async function servedRoutes() {
  const { apiRoutes } = await import('../../functions/handlers/api');
  return apiRoutes(() => {
    throw new Error('servedRoutes() is for reading the table; call a handler from apiHandler()');
  });
}

/**
 * The api handler over a container built on its first call from process.env: call it after the
 * stack has set the environment, and close() before the stack stops.
 */
export async function apiHandler(): Promise<{ handler: Handlers['api']; close(): Promise<void> }> {
  const [{ createApiHandler }, { lazyContainer }] = await Promise.all([
    import('../../functions/handlers/api'),
    import('../../functions/container'),
  ]);
  const container = lazyContainer(() => process.env);
  return { handler: createApiHandler(container.get) as Handlers['api'], close: () => container.close() };
}
