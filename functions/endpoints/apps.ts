/** Apps and their endpoints: the tenants and the places their webhooks go. */
import type * as z from 'zod/mini';
import { throttleView, type RateLimit, type ThrottleView } from '../flow/throttle';
import { authView, clashingHeaderReason, type AuthView } from '../webhook/endpoint-options';
import { ConflictError, NotFoundError, UnprocessableError, ValidationError, type ErrorDetail } from '../shared/errors';
import { newId } from '../shared/ids';
import type { App, Endpoint, EndpointAuth, EndpointSecret, EndpointSignature } from '../shared/model';
import {
  ENDPOINT_OPTION_FIELDS,
  LIMITS,
  parseOrThrow,
  createAppSchema,
  eventShardsSchema,
  updateAppSchema,
  createEndpointSchema,
  pageQuerySchema,
  toDetails,
  updateEndpointSchema,
} from '../api/schemas';
import {
  DEFAULT_SIGNATURE,
  HMAC_DEFAULTS,
  activeSecrets,
  chosenSecretProblem,
  keyKind,
  newKeyFor,
  publicKeyOf,
  schemeKeyKind,
  verificationKey,
} from '../webhook/signing';

/** Storage the app and endpoint use cases need. */
export interface AppStore {
  putApp(app: App): Promise<void>;
  /** Sets the app's name and options; false when there is no such app. */
  updateApp(app: App): Promise<boolean>;
  getApp(appId: string): Promise<App | null>;
  /** Raises the app's eventShards to `shards`; false when it is missing or has as many already. */
  raiseEventShards(appId: string, shards: number): Promise<boolean>;
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

/** What the API shows of an endpoint's signature: the scheme, and for v1a the key to verify with. */
export type SignatureView = EndpointSignature | { scheme: 'standard-webhooks-v1a'; publicKey: string };

/** What the API shows of an endpoint: never its secrets, only that they are set. */
export interface EndpointView {
  id: string;
  url: string;
  eventTypes: string[];
  description: string;
  enabled: boolean;
  disabledReason?: string;
  signature: SignatureView;
  /** The custom headers' names; their values are write-only. */
  headerNames: string[];
  auth?: AuthView;
  /** `strict`: a key's events one at a time, in accept order (docs/ordering.md). */
  ordering: 'none' | 'strict';
  /** At most this many POSTs a second, or null for none. */
  rateLimit: RateLimit | null;
  /** Flow control's state: normal, throttled (and at what rate), or paused (until its next probe). */
  throttle: ThrottleView;
  createdAt: string;
  updatedAt: string;
}

/** The newest secret: the one that signs from now on. */
const newestSecret = (secrets: readonly EndpointSecret[]) =>
  secrets.find((s) => s.expiresAt === undefined) ?? secrets.at(-1);

export function endpointView(e: Endpoint): EndpointView {
  const signature = e.signature ?? DEFAULT_SIGNATURE;
  const newest = newestSecret(e.secrets);
  const view: EndpointView = {
    id: e.id,
    url: e.url,
    eventTypes: e.eventTypes,
    description: e.description,
    enabled: e.enabled,
    signature:
      signature.scheme === 'standard-webhooks-v1a' && newest && keyKind(newest.key) === 'ed25519'
        ? { scheme: signature.scheme, publicKey: publicKeyOf(newest.key) }
        : signature,
    headerNames: Object.keys(e.headers ?? {}),
    ordering: e.ordering ?? 'none',
    rateLimit: e.rateLimit ?? null,
    throttle: throttleView(e.throttle, e.rateLimit),
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
  if (e.auth !== undefined) view.auth = authView(e.auth);
  if (e.disabledReason !== undefined) view.disabledReason = e.disabledReason;
  return view;
}

/**
 * Parses an endpoint body: problems with its request options (signature, secret, headers, auth)
 * are a 422 naming the field, as the contract says; other problems the usual 400.
 */
function parseEndpointBody<S extends z.ZodMiniType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const details = toDetails(result.error);
  const isOption = (d: ErrorDetail) => ENDPOINT_OPTION_FIELDS.has(d.path.split('.')[0] ?? '');
  if (details.every(isOption)) throw new UnprocessableError('the endpoint options cannot be used', details);
  throw new ValidationError('invalid request body', details);
}

/** The stored form of a requested signature: the hmac-sha256 defaults filled in. */
function normalizeSignature(input: { scheme: string; header?: string; prefix?: string }): EndpointSignature {
  if (input.scheme === 'hmac-sha256')
    return {
      scheme: 'hmac-sha256',
      header: input.header ?? HMAC_DEFAULTS.header,
      prefix: input.prefix ?? HMAC_DEFAULTS.prefix,
    };
  return { scheme: input.scheme as 'standard-webhooks' | 'standard-webhooks-v1a' };
}

/** The checks that span fields: custom headers against the signature header and auth. */
function optionProblems(e: Pick<Endpoint, 'signature' | 'headers' | 'auth'>): ErrorDetail[] {
  const signature = e.signature ?? DEFAULT_SIGNATURE;
  const problems: ErrorDetail[] = [];
  for (const name of Object.keys(e.headers ?? {})) {
    const reason = clashingHeaderReason(name, { signature, auth: e.auth });
    if (reason) problems.push({ path: `headers.${name}`, message: reason });
  }
  return problems;
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

  /** `key` signs from now on; the secrets signing until now keep signing for the overlap. */
  function rotate(e: Endpoint, key: string): void {
    const at = now();
    const until = new Date(at.getTime() + deps.rotationOverlapS * 1000).toISOString();
    const kept = activeSecrets(e.secrets, at).map((s) => (s.expiresAt === undefined ? { ...s, expiresAt: until } : s));
    e.secrets = [...kept, { key, createdAt: at.toISOString() }];
  }

  /** The URL in its stored form if the destination guard allows it; a 422 naming `path` if not. */
  async function allowedUrl(raw: string, path: string): Promise<string> {
    const verdict = await deps.checkDestination(raw);
    if (!verdict.ok) {
      throw new UnprocessableError(`${path} is not an allowed destination`, [{ path, message: verdict.reason }]);
    }
    return verdict.url;
  }

  /** OAuth2's token URL goes through the same destination guard as the endpoint's own URL. */
  async function checkedAuth(auth: EndpointAuth): Promise<EndpointAuth> {
    if (auth.type !== 'oauth2-client-credentials') return auth;
    return { ...auth, tokenUrl: await allowedUrl(auth.tokenUrl, 'auth.tokenUrl') };
  }

  return {
    requireApp,

    async createApp(body: unknown): Promise<App> {
      const input = parseOrThrow(createAppSchema, body);
      const app: App = { id: newId('app'), name: input.name, createdAt: now().toISOString() };
      if (input.knownEventTypesOnly) app.knownEventTypesOnly = true;
      await deps.store.putApp(app);
      return app;
    },

    /**
     * Spreads an app's events (and its busy endpoints' delivery records) over more partitions, for
     * an app that sends more than one partition takes (~1,000 events a second: docs/data-model.md).
     * Only ever raised: readers read every partition up to the count.
     */
    async raiseEventShards(appId: string, body: unknown): Promise<App> {
      const { eventShards } = parseOrThrow(eventShardsSchema, body);
      const app = await requireApp(appId);
      const current = app.eventShards ?? 1;
      if (
        eventShards < current ||
        (eventShards > current && !(await deps.store.raiseEventShards(appId, eventShards)))
      ) {
        const now = (await requireApp(appId)).eventShards ?? 1;
        if (now !== eventShards) {
          throw new ConflictError(`app ${appId} has ${now} event shards: the count can only be raised`, [
            { path: 'eventShards', message: `must be at least ${now}` },
          ]);
        }
      }
      return requireApp(appId);
    },

    /** Changes the app's name or its options (knownEventTypesOnly). */
    async updateApp(appId: string, body: unknown): Promise<App> {
      const input = parseOrThrow(updateAppSchema, body);
      const current = await requireApp(appId);
      const next: App = { ...current };
      if (input.name !== undefined) next.name = input.name;
      if (input.knownEventTypesOnly === true) next.knownEventTypesOnly = true;
      else if (input.knownEventTypesOnly === false) delete next.knownEventTypesOnly;
      if (!(await deps.store.updateApp(next))) throw new NotFoundError(`app ${appId} not found`);
      return next;
    },

    async createEndpoint(appId: string, body: unknown): Promise<EndpointView> {
      const input = parseEndpointBody(createEndpointSchema, body);
      const signature = normalizeSignature(input.signature ?? DEFAULT_SIGNATURE);
      const problems = optionProblems({ signature, headers: input.headers, auth: input.auth });
      const secretProblem =
        input.secret === undefined ? undefined : chosenSecretProblem(input.secret, signature.scheme);
      if (secretProblem) problems.push({ path: 'secret', message: secretProblem });
      if (problems.length > 0) throw new UnprocessableError('the endpoint options cannot be used', problems);
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
      const url = await allowedUrl(input.url, 'url');
      const auth = input.auth === undefined ? undefined : await checkedAuth(input.auth);
      const at = now().toISOString();
      const endpoint: Endpoint = {
        id: newId('ep'),
        appId,
        url,
        eventTypes: [...new Set(input.eventTypes ?? [])],
        description: input.description ?? '',
        enabled: input.enabled ?? true,
        createdAt: at,
        updatedAt: at,
        secrets: [{ key: input.secret ?? newKeyFor(signature.scheme), createdAt: at }],
        version: 0,
      };
      if (input.signature !== undefined) endpoint.signature = signature;
      if (input.headers !== undefined && Object.keys(input.headers).length > 0) endpoint.headers = input.headers;
      if (auth !== undefined) endpoint.auth = auth;
      if (input.ordering === 'strict') endpoint.ordering = 'strict';
      if (input.rateLimit) endpoint.rateLimit = { perSecond: input.rateLimit.perSecond };
      await deps.store.putEndpoint(endpoint);
      return endpointView(endpoint);
    },

    getEndpoint,

    async updateEndpoint(appId: string, endpointId: string, body: unknown): Promise<EndpointView> {
      const input = parseEndpointBody(updateEndpointSchema, body);
      const url = input.url === undefined ? undefined : await allowedUrl(input.url, 'url');
      const auth = input.auth ? await checkedAuth(input.auth) : input.auth;
      const updated = await modifyEndpoint(appId, endpointId, (e) => {
        if (url !== undefined && url !== e.url) {
          e.url = url;
          // Another receiver: what flow control learnt of the old one does not apply.
          delete e.throttle;
        }
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
        if (input.signature !== undefined) e.signature = normalizeSignature(input.signature);
        if (input.headers === null || (input.headers && Object.keys(input.headers).length === 0)) delete e.headers;
        else if (input.headers !== undefined) e.headers = input.headers;
        if (auth === null) delete e.auth;
        else if (auth !== undefined) e.auth = auth;
        if (input.ordering === 'strict') e.ordering = 'strict';
        else if (input.ordering === 'none') delete e.ordering;
        if (input.rateLimit === null) delete e.rateLimit;
        else if (input.rateLimit !== undefined) e.rateLimit = { perSecond: input.rateLimit.perSecond };

        const scheme = (e.signature ?? DEFAULT_SIGNATURE).scheme;
        const problems = optionProblems(e);
        if (input.secret !== undefined) {
          const problem = chosenSecretProblem(input.secret, scheme);
          if (problem) problems.push({ path: 'secret', message: problem });
        }
        if (problems.length > 0) throw new UnprocessableError('the endpoint options cannot be used', problems);
        // A chosen secret is a rotation to it. A scheme that signs with the other kind of key
        // gets a new key of its kind, the same way: the old one keeps signing for the overlap
        // (Standard Webhooks sends v1 and v1a side by side), so receivers can switch in time.
        const current = newestSecret(e.secrets);
        if (input.secret !== undefined) rotate(e, input.secret);
        else if (!current || keyKind(current.key) !== schemeKeyKind(scheme)) rotate(e, newKeyFor(scheme));
        return e;
      });
      return endpointView(updated);
    },

    async deleteEndpoint(appId: string, endpointId: string): Promise<void> {
      if (!(await deps.store.deleteEndpoint(appId, endpointId)))
        throw new NotFoundError(`endpoint ${endpointId} not found`);
    },

    /**
     * What a receiver verifies with, for the secret that signs from now on (the newest): the
     * secret itself, or for `standard-webhooks-v1a` the `whpk_` public key of the signing key.
     */
    async currentSecret(appId: string, endpointId: string): Promise<{ key: string }> {
      const endpoint = await getEndpoint(appId, endpointId);
      const newest = newestSecret(endpoint.secrets);
      if (!newest) throw new Error(`endpoint ${endpointId} has no secret`);
      return { key: verificationKey(newest.key) };
    },

    /**
     * A new secret (of the kind the endpoint's scheme signs with) signs from now on; the previous
     * one keeps signing beside it for the overlap (24 h), so consumers can switch without missing
     * a webhook. Secrets past their overlap are dropped.
     */
    async rotateSecret(appId: string, endpointId: string): Promise<{ key: string }> {
      let key = '';
      await modifyEndpoint(appId, endpointId, (e) => {
        key = newKeyFor((e.signature ?? DEFAULT_SIGNATURE).scheme);
        rotate(e, key);
        return e;
      });
      return { key: verificationKey(key) };
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
