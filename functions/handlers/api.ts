/**
 * The HTTP API (API Gateway HTTP API, payload 2.0). The routes are declared once, in
 * functions/api/routes.ts, with who may call each; here each gets a thin function over the core.
 * Middleware does auth, JSON parsing and error mapping once for all of them, and `serve` checks
 * each route's access before its function runs.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import httpRouterHandler, { type Route } from '@middy/http-router';
import { endpointView } from '../endpoints/apps';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../shared/errors';
import { EVENT_ID_PATTERN } from '../shared/ids';
import { authorizeApp, requireAdmin, type Principal } from '../access/keys';
import { requirePortalCapability } from '../access/portal-access';
import { ROUTES, routeKeys, type RouteKey, type RouteSpec } from '../api/routes';
import { EVENT_TYPE_PATTERN, LIMITS } from '../api/schemas';
import { defaultContainer, once, type Container } from '../container';
import { logger, metrics } from '../telemetry';
import { apiServices, type ApiServices } from '../wiring';
import type { Context } from 'aws-lambda';
import { errorMapper } from './http/errors';
import { authenticate, headerLimit, jsonBody, methodCheck, rateLimit, type ApiEvent } from './http/middleware';
import { portalAsset } from './http/portal';
import { json, type HttpResult } from './http/respond';
import { isRestProxyEvent, restProxyEvents, restToHttpApiEvent } from './http/rest-event';

type Method = Route<ApiEvent, HttpResult>['method'];

function param(e: ApiEvent, name: string): string {
  const raw = e.pathParameters?.[name] ?? '';
  let value: string;
  try {
    value = decodeURIComponent(raw);
  } catch {
    throw new ValidationError('malformed path', [{ path: name, message: 'is not valid percent-encoding' }]);
  }
  // Every id, issued or chosen, has this form; anything else names nothing (and a table key
  // built from a 3 KB id is a DynamoDB ValidationException, which must not become a 500).
  if (!EVENT_ID_PATTERN.test(value)) {
    const shown = value.length > 64 ? `${value.slice(0, 64)}...` : value;
    throw new NotFoundError(`${name.replace(/Id$/, '')} ${shown} not found`);
  }
  return value;
}

/** An event type's name from the path: anything that is not a valid name names nothing (404). */
function typeParam(e: ApiEvent): string {
  let value: string;
  try {
    value = decodeURIComponent(e.pathParameters?.name ?? '');
  } catch {
    throw new ValidationError('malformed path', [{ path: 'name', message: 'is not valid percent-encoding' }]);
  }
  if (value.length > LIMITS.eventTypeLength || !EVENT_TYPE_PATTERN.test(value)) {
    throw new NotFoundError(`event type ${value.slice(0, 64)} not found`);
  }
  return value;
}

/** The origin portal links point to: the configured one, else the one this request came to. */
function portalBase(e: ApiEvent, configured: string | undefined): string {
  if (configured) return configured;
  const proto = e.headers?.['x-forwarded-proto']?.split(',')[0]?.trim() || 'https';
  // A REST API serves under its stage's name (/prod/...); an HTTP API's $default stage has none.
  const stage = e.requestContext.stage && e.requestContext.stage !== '$default' ? `/${e.requestContext.stage}` : '';
  return `${proto}://${e.headers?.host ?? e.requestContext.domainName}${stage}`;
}

const query = (e: ApiEvent) => e.queryStringParameters ?? {};

function principal(e: ApiEvent): Principal {
  if (!e.principal) throw new UnauthorizedError('missing Authorization header (expected "Bearer <key>")');
  return e.principal;
}

/** One route's work, once `serve` has checked its access; `appId` is set on app routes. */
type Implementation = (e: ApiEvent, who: Principal, appId: string) => Promise<HttpResult>;
/** An open route has no caller to pass. */
type Implements<K extends RouteKey> = (typeof ROUTES)[K]['access'] extends 'open'
  ? (e: ApiEvent) => Promise<HttpResult>
  : Implementation;

/** Who did it, as a skipped delivery's reason says ("skipped by ..."). */
function actorOf(who: Principal): string {
  if (who.kind === 'admin') return 'the admin key';
  if (who.kind === 'app') return `app key ${who.keyId}`;
  return "the endpoint's owner (portal)";
}

type Implementations = { [K in RouteKey]: Implements<K> };

/** What each declared route does: the compiler holds this to exactly the routes in ROUTES. */
const implementationsOver = (services: () => ApiServices): Implementations => ({
  'GET /health': async () => json(200, { ok: true }),

  'POST /v1/apps': async (e) => json(201, await services().apps.createApp(e.jsonBody)),
  'GET /v1/apps/{appId}': async (_e, _who, appId) => json(200, await services().apps.requireApp(appId)),
  'PUT /v1/apps/{appId}/event-shards': async (e, who, appId) => {
    // Another app's key got 404 on the way in; its own app's key is not an operator.
    requireAdmin(who, "only the admin key can change an app's event shards");
    return json(200, await services().apps.raiseEventShards(appId, e.jsonBody));
  },
  'PATCH /v1/apps/{appId}': async (e, who, appId) => {
    requireAdmin(who, 'only the admin key can change an app');
    return json(200, await services().apps.updateApp(appId, e.jsonBody));
  },

  'POST /v1/apps/{appId}/keys': async (e, who, appId) =>
    json(201, await services().keys.create(who, appId, e.jsonBody)),
  'DELETE /v1/apps/{appId}/keys/{keyId}': async (e, who, appId) => {
    await services().keys.revoke(who, appId, param(e, 'keyId'));
    return json(204);
  },

  'POST /v1/apps/{appId}/endpoints': async (e, _who, appId) =>
    json(201, await services().apps.createEndpoint(appId, e.jsonBody)),
  'GET /v1/apps/{appId}/endpoints': async (e, _who, appId) =>
    json(200, await services().apps.listEndpoints(appId, query(e))),
  'GET /v1/apps/{appId}/endpoints/{endpointId}': async (e, _who, appId) =>
    json(200, endpointView(await services().apps.getEndpoint(appId, param(e, 'endpointId')))),
  'PATCH /v1/apps/{appId}/endpoints/{endpointId}': async (e, _who, appId) =>
    json(200, await services().apps.updateEndpoint(appId, param(e, 'endpointId'), e.jsonBody)),
  'DELETE /v1/apps/{appId}/endpoints/{endpointId}': async (e, _who, appId) => {
    await services().apps.deleteEndpoint(appId, param(e, 'endpointId'));
    return json(204);
  },
  'GET /v1/apps/{appId}/endpoints/{endpointId}/secret': async (e, _who, appId) =>
    json(200, await services().apps.currentSecret(appId, param(e, 'endpointId'))),
  'POST /v1/apps/{appId}/endpoints/{endpointId}/secret/rotate': async (e, _who, appId) =>
    json(200, await services().apps.rotateSecret(appId, param(e, 'endpointId'))),
  'POST /v1/apps/{appId}/endpoints/{endpointId}/recover': async (e, _who, appId) =>
    json(202, await services().replay.recover(appId, param(e, 'endpointId'), e.jsonBody)),
  'POST /v1/apps/{appId}/endpoints/{endpointId}/ordering/skip': async (e, who, appId) =>
    json(202, await services().ordering.skip(appId, param(e, 'endpointId'), e.jsonBody, actorOf(who))),
  'GET /v1/apps/{appId}/endpoints/{endpointId}/ordering/held': async (e, _who, appId) =>
    json(200, await services().ordering.heldKeys(appId, param(e, 'endpointId'))),

  'POST /v1/apps/{appId}/events': async (e, _who, appId) =>
    json(
      202,
      await services().ingest.ingest({ appId, body: e.jsonBody, idempotencyKey: e.headers?.['idempotency-key'] }),
    ),
  'POST /v1/apps/{appId}/events/batch': async (e, _who, appId) =>
    json(202, await services().ingest.ingestBatch(appId, e.jsonBody)),
  'GET /v1/apps/{appId}/events': async (e, _who, appId) => json(200, await services().queries.feed(appId, query(e))),
  'GET /v1/apps/{appId}/events/{eventId}': async (e, _who, appId) =>
    json(200, await services().queries.status(appId, param(e, 'eventId'))),
  'GET /v1/apps/{appId}/events/{eventId}/attempts': async (e, _who, appId) =>
    json(200, await services().queries.attempts(appId, param(e, 'eventId'))),
  'POST /v1/apps/{appId}/events/{eventId}/resend': async (e, _who, appId) =>
    json(202, await services().replay.resend(appId, param(e, 'eventId'), e.jsonBody)),

  'POST /v1/event-types': async (e) => json(201, await services().eventTypes.create(e.jsonBody)),
  'GET /v1/event-types': async (e) => json(200, await services().eventTypes.list(query(e))),
  'GET /v1/event-types/{name}': async (e) => json(200, await services().eventTypes.get(typeParam(e))),
  'PATCH /v1/event-types/{name}': async (e) => json(200, await services().eventTypes.update(typeParam(e), e.jsonBody)),
  'DELETE /v1/event-types/{name}': async (e) => {
    await services().eventTypes.remove(typeParam(e));
    return json(204);
  },
  'POST /v1/apps/{appId}/endpoints/{endpointId}/send-example': async (e, _who, appId) =>
    json(202, await services().testEvents.sendExample(appId, param(e, 'endpointId'), e.jsonBody)),
  'GET /v1/apps/{appId}/endpoints/{endpointId}/deliveries': async (e, _who, appId) =>
    json(200, await services().endpointLog.deliveries(appId, param(e, 'endpointId'), query(e))),
  'GET /v1/apps/{appId}/endpoints/{endpointId}/deliveries/{eventId}': async (e, _who, appId) =>
    json(200, await services().endpointLog.delivery(appId, param(e, 'endpointId'), param(e, 'eventId'))),
  'GET /v1/apps/{appId}/endpoints/{endpointId}/stats': async (e, _who, appId) =>
    json(200, await services().endpointLog.stats(appId, param(e, 'endpointId'), query(e))),
  'POST /v1/apps/{appId}/portal-access': async (e, who, appId) =>
    json(201, await services().portal.mint(who, appId, e.jsonBody, portalBase(e, services().cfg.portalUrl))),
  'DELETE /v1/apps/{appId}/portal-access': async (_e, who, appId) => {
    await services().portal.endAll(who, appId);
    return json(204);
  },
  'GET /v1/portal/session': async (_e, who) => {
    if (who.kind !== 'portal') throw new ForbiddenError('only a portal link has a portal session');
    return json(200, { appId: who.appId, capabilities: who.capabilities, expiresAt: who.expiresAt });
  },
});

/**
 * A declared route, served: its access checked from ROUTES (a key; the admin; the path's app,
 * which an app-scoped key or portal link reaches only for its own app; a portal link's
 * capability), then its implementation.
 */
function serve(
  implementations: Implementations,
  key: RouteKey,
  method: Method,
  path: string,
): Route<ApiEvent, HttpResult> {
  const spec: RouteSpec = ROUTES[key];
  const implementation: Implementation = implementations[key];
  return {
    method,
    path,
    handler: async (e: ApiEvent) => {
      if (spec.access === 'open') return (implementations[key] as (e: ApiEvent) => Promise<HttpResult>)(e);
      if (spec.access === 'app') {
        const appId = param(e, 'appId');
        const who = principal(e);
        authorizeApp(who, appId);
        requirePortalCapability(who, spec.portal, key);
        return implementation(e, who, appId);
      }
      const who = principal(e);
      if (typeof spec.access === 'object') requireAdmin(who, spec.access.admin);
      return implementation(e, who, '');
    },
  };
}

/** Every route the API serves, in ROUTES' order, over the services `services` gives. */
export function apiRoutes(services: () => ApiServices): Route<ApiEvent, HttpResult>[] {
  const implementations = implementationsOver(services);
  return routeKeys().map(({ key, method, path }) => serve(implementations, key, method as Method, path));
}

/** The api function over a container: its services are built on the first request. */
export function createApiHandler(container: () => Container) {
  const services = once(() => apiServices(container()));
  const routes = apiRoutes(services);
  const api = middy<ApiEvent, HttpResult>()
    // A REST API (`-c hookrelay:api=rest`) sends payload format 1.0: made 2.0 before anything reads it.
    .use(restProxyEvents())
    // Never log the API's events, whatever POWERTOOLS_LOGGER_LOG_EVENT says: they carry the
    // caller's key in the Authorization header.
    .use(injectLambdaContext(logger, { logEvent: false }))
    .use(logMetrics(metrics))
    .use(errorMapper(logger))
    .use(headerLimit())
    .use(
      authenticate({
        openPaths: new Set(
          routeKeys()
            .filter(({ key }) => ROUTES[key].access === 'open')
            .map(({ path }) => path),
        ),
        authenticate: (header) => services().keys.authenticate(header),
      }),
    )
    // The portal's own calls, per link: a token bucket in this container (see access/rate-limit.ts).
    .use(
      rateLimit((who) =>
        who?.kind === 'portal' ? services().portalRateLimiter.take(who.session) : { ok: true as const },
      ),
    )
    .use(methodCheck(routes))
    .use(jsonBody())
    .handler(httpRouterHandler(routes));

  /** The API, and the portal's static files at /portal (no key: the page asks for its link's token). */
  return async (event: ApiEvent, context: Context): Promise<HttpResult> =>
    portalAsset(isRestProxyEvent(event) ? restToHttpApiEvent(event) : event, services().cfg.portalFrameAncestors) ??
    api(event, context);
}

/** The Lambda's entry point. */
export const handler = createApiHandler(defaultContainer);
