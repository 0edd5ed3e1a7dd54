/** Apps and their endpoints: the tenants and the places their webhooks go. */
import { NotFoundError, UnprocessableError } from './errors';
import { newId } from './ids';
import type { App, Endpoint } from './model';
import { parseOrThrow, createAppSchema, createEndpointSchema, pageQuerySchema } from './schemas';
import { generateSecret } from './signing';

/** Storage the app and endpoint use cases need. */
export interface AppStore {
  putApp(app: App): Promise<void>;
  getApp(appId: string): Promise<App | null>;
  putEndpoint(endpoint: Endpoint): Promise<void>;
  getEndpoint(appId: string, endpointId: string): Promise<Endpoint | null>;
  listEndpoints(appId: string, limit: number, cursor?: string): Promise<{ items: Endpoint[]; nextCursor: string | null }>;
}

/**
 * Decides whether a URL may receive webhooks (the SSRF guard at registration time); answers the
 * normalised URL to store, or why it is refused.
 */
export type DestinationCheck = (url: string) => Promise<{ ok: true; url: string } | { ok: false; reason: string }>;

export interface AppDeps {
  store: AppStore;
  checkDestination: DestinationCheck;
  now?: () => Date;
}

/** What the API shows of an endpoint: never its secrets. */
export interface EndpointView {
  id: string;
  url: string;
  eventTypes: string[];
  description: string;
  enabled: boolean;
  disabledReason?: string;
  createdAt: string;
  updatedAt: string;
}

export function endpointView(e: Endpoint): EndpointView {
  const view: EndpointView = {
    id: e.id,
    url: e.url,
    eventTypes: e.eventTypes,
    description: e.description,
    enabled: e.enabled,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
  if (e.disabledReason !== undefined) view.disabledReason = e.disabledReason;
  return view;
}

export function createAppService(deps: AppDeps) {
  const now = deps.now ?? (() => new Date());

  async function requireApp(appId: string): Promise<App> {
    const app = await deps.store.getApp(appId);
    if (!app) throw new NotFoundError(`app ${appId} not found`);
    return app;
  }

  return {
    requireApp,

    async createApp(body: unknown): Promise<App> {
      const input = parseOrThrow(createAppSchema, body);
      const app: App = { id: newId('app'), name: input.name, createdAt: now().toISOString() };
      await deps.store.putApp(app);
      return app;
    },

    async createEndpoint(appId: string, body: unknown): Promise<EndpointView> {
      const input = parseOrThrow(createEndpointSchema, body);
      await requireApp(appId);
      const verdict = await deps.checkDestination(input.url);
      if (!verdict.ok) {
        throw new UnprocessableError('endpoint url is not an allowed destination', [{ path: 'url', message: verdict.reason }]);
      }
      const at = now().toISOString();
      const endpoint: Endpoint = {
        id: newId('ep'),
        appId,
        url: verdict.url,
        eventTypes: [...new Set(input.eventTypes ?? [])],
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        createdAt: at,
        updatedAt: at,
        secrets: [{ key: generateSecret(), createdAt: at }],
      };
      await deps.store.putEndpoint(endpoint);
      return endpointView(endpoint);
    },

    async getEndpoint(appId: string, endpointId: string): Promise<Endpoint> {
      const endpoint = await deps.store.getEndpoint(appId, endpointId);
      if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
      return endpoint;
    },

    async listEndpoints(appId: string, query: Record<string, string | undefined>) {
      const page = parseOrThrow(pageQuerySchema, query, 'query string');
      await requireApp(appId);
      const result = await deps.store.listEndpoints(appId, page.limit, page.cursor);
      return { items: result.items.map(endpointView), nextCursor: result.nextCursor };
    },
  };
}

export type AppService = ReturnType<typeof createAppService>;
