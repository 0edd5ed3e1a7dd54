/** Apps and their endpoints: the tenants and the places their webhooks go. */
import { ConflictError, NotFoundError, UnprocessableError } from './errors';
import { newId } from './ids';
import type { App, Endpoint } from './model';
import {
  LIMITS,
  parseOrThrow,
  createAppSchema,
  createEndpointSchema,
  pageQuerySchema,
  updateEndpointSchema,
} from './schemas';
import { activeSecrets, generateSecret } from './signing';

/** Storage the app and endpoint use cases need. */
export interface AppStore {
  putApp(app: App): Promise<void>;
  getApp(appId: string): Promise<App | null>;
  putEndpoint(endpoint: Endpoint): Promise<void>;
  getEndpoint(appId: string, endpointId: string): Promise<Endpoint | null>;
  listEndpoints(
    appId: string,
    limit: number,
    cursor?: string,
  ): Promise<{ items: Endpoint[]; nextCursor: string | null }>;
  /** How many endpoints the app has (read consistently). */
  countEndpoints(appId: string): Promise<number>;
  /** Writes `endpoint` if its stored version is still `endpoint.version - 1`; false otherwise. */
  replaceEndpoint(endpoint: Endpoint): Promise<boolean>;
  /** False when there was no such endpoint. */
  deleteEndpoint(appId: string, endpointId: string): Promise<boolean>;
}

/**
 * Decides whether a URL may receive webhooks (the SSRF guard at registration time); answers the
 * normalised URL to store, or why it is refused.
 */
export type DestinationCheck = (url: string) => Promise<{ ok: true; url: string } | { ok: false; reason: string }>;

export interface AppDeps {
  store: AppStore;
  checkDestination: DestinationCheck;
  /** How long a rotated-out secret keeps signing beside the new one. */
  rotationOverlapS: number;
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

  async function getEndpoint(appId: string, endpointId: string): Promise<Endpoint> {
    const endpoint = await deps.store.getEndpoint(appId, endpointId);
    if (!endpoint) throw new NotFoundError(`endpoint ${endpointId} not found`);
    return endpoint;
  }

  /** Read, change, write if nobody else wrote meanwhile; a few tries, then a 409. */
  async function modifyEndpoint(
    appId: string,
    endpointId: string,
    change: (e: Endpoint) => Endpoint,
  ): Promise<Endpoint> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const current = await getEndpoint(appId, endpointId);
      const next = {
        ...change(structuredClone(current)),
        version: current.version + 1,
        updatedAt: now().toISOString(),
      };
      if (await deps.store.replaceEndpoint(next)) return next;
    }
    throw new ConflictError(`endpoint ${endpointId} is being changed concurrently; try again`);
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
      // Bounds the fan-out of one event (and the size of its item, which lists the endpoints).
      // Checked before the write: creations running at the same moment can each pass it.
      if ((await deps.store.countEndpoints(appId)) >= LIMITS.endpointsPerApp) {
        throw new UnprocessableError(
          `app ${appId} already has ${LIMITS.endpointsPerApp} endpoints, the most an app may have`,
          [
            {
              path: 'endpoints',
              message: `an app may have at most ${LIMITS.endpointsPerApp} endpoints; delete one to add another`,
            },
          ],
        );
      }
      const verdict = await deps.checkDestination(input.url);
      if (!verdict.ok) {
        throw new UnprocessableError('endpoint url is not an allowed destination', [
          { path: 'url', message: verdict.reason },
        ]);
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
        version: 0,
      };
      await deps.store.putEndpoint(endpoint);
      return endpointView(endpoint);
    },

    getEndpoint,

    async updateEndpoint(appId: string, endpointId: string, body: unknown): Promise<EndpointView> {
      const input = parseOrThrow(updateEndpointSchema, body);
      let url: string | undefined;
      if (input.url !== undefined) {
        const verdict = await deps.checkDestination(input.url);
        if (!verdict.ok) {
          throw new UnprocessableError('endpoint url is not an allowed destination', [
            { path: 'url', message: verdict.reason },
          ]);
        }
        url = verdict.url;
      }
      const updated = await modifyEndpoint(appId, endpointId, (e) => {
        if (url !== undefined) e.url = url;
        if (input.eventTypes !== undefined) e.eventTypes = [...new Set(input.eventTypes)];
        if (input.description !== undefined) e.description = input.description;
        if (input.enabled !== undefined) {
          e.enabled = input.enabled;
          // Re-enabling (after a 410, say) clears why the service had disabled it, and the streak.
          if (input.enabled) {
            delete e.disabledReason;
            delete e.failingSince;
          }
        }
        return e;
      });
      return endpointView(updated);
    },

    async deleteEndpoint(appId: string, endpointId: string): Promise<void> {
      if (!(await deps.store.deleteEndpoint(appId, endpointId)))
        throw new NotFoundError(`endpoint ${endpointId} not found`);
    },

    /** The secret that signs from now on (the newest). */
    async currentSecret(appId: string, endpointId: string): Promise<{ key: string }> {
      const endpoint = await getEndpoint(appId, endpointId);
      const newest = endpoint.secrets.find((s) => s.expiresAt === undefined) ?? endpoint.secrets.at(-1);
      if (!newest) throw new Error(`endpoint ${endpointId} has no secret`);
      return { key: newest.key };
    },

    /**
     * A new secret signs from now on; the previous one keeps signing beside it for the overlap
     * (24 h), so consumers can switch without missing a webhook. Secrets past their overlap are dropped.
     */
    async rotateSecret(appId: string, endpointId: string): Promise<{ key: string }> {
      const key = generateSecret();
      await modifyEndpoint(appId, endpointId, (e) => {
        const at = now();
        const until = new Date(at.getTime() + deps.rotationOverlapS * 1000).toISOString();
        const kept = activeSecrets(e.secrets, at).map((s) =>
          s.expiresAt === undefined ? { ...s, expiresAt: until } : s,
        );
        e.secrets = [...kept, { key, createdAt: at.toISOString() }];
        return e;
      });
      return { key };
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
