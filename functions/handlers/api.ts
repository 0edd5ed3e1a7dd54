/**
 * The HTTP API (API Gateway HTTP API, payload 2.0). Routes are a table of thin functions over the
 * core; middleware does auth, JSON parsing and error mapping once for all of them. Every route
 * under /v1/apps/{appId} goes through `appRoute`, which lets an app-scoped key reach its own app only.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import httpRouterHandler, { type Route } from '@middy/http-router';
import { endpointView } from '../endpoints/apps';
import { ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../shared/errors';
import { EVENT_ID_PATTERN } from '../shared/ids';
import { authorizeApp, requireAdmin, type Principal } from '../access/keys';
import { requirePortalCapability, type Capability } from '../access/portal-access';
import { EVENT_TYPE_PATTERN, LIMITS } from '../api/schemas';
import { logger, metrics, wiring } from '../wiring';
import type { Context } from 'aws-lambda';
import { authenticate, errorMapper, headerLimit, jsonBody, rateLimit, type ApiEvent } from './http/middleware';
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
function portalBase(e: ApiEvent): string {
  const configured = services().cfg.portalUrl;
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

const route = (
  method: Method,
  path: string,
  handler: (e: ApiEvent) => Promise<HttpResult>,
): Route<ApiEvent, HttpResult> => ({
  method,
  path,
  handler,
});

/**
 * What a portal link may do, route by route: `read` with any link, `manage` with a manage link.
 * A route not listed (keys, sending events, the feed) answers 403 to every portal link.
 */
export const PORTAL_CAPABILITIES: Record<string, Capability> = {
  'GET /v1/apps/{appId}': 'read',
  'POST /v1/apps/{appId}/endpoints': 'manage',
  'GET /v1/apps/{appId}/endpoints': 'read',
  'GET /v1/apps/{appId}/endpoints/{endpointId}': 'read',
  'PATCH /v1/apps/{appId}/endpoints/{endpointId}': 'manage',
  'DELETE /v1/apps/{appId}/endpoints/{endpointId}': 'manage',
  'GET /v1/apps/{appId}/endpoints/{endpointId}/secret': 'manage',
  'POST /v1/apps/{appId}/endpoints/{endpointId}/secret/rotate': 'manage',
  'POST /v1/apps/{appId}/endpoints/{endpointId}/recover': 'manage',
  'POST /v1/apps/{appId}/endpoints/{endpointId}/send-example': 'manage',
  'GET /v1/apps/{appId}/endpoints/{endpointId}/deliveries': 'read',
  'GET /v1/apps/{appId}/endpoints/{endpointId}/stats': 'read',
  'GET /v1/apps/{appId}/endpoints/{endpointId}/deliveries/{eventId}': 'read',
  'GET /v1/apps/{appId}/events/{eventId}': 'read',
  'GET /v1/apps/{appId}/events/{eventId}/attempts': 'read',
  'POST /v1/apps/{appId}/events/{eventId}/resend': 'manage',
};

/**
 * A route under /v1/apps/{appId}: the caller must be the admin or hold a key (or a portal link)
 * of this app; a portal link also needs the route's capability.
 */
const appRoute = (
  method: Method,
  path: string,
  handler: (e: ApiEvent, appId: string, who: Principal) => Promise<HttpResult>,
): Route<ApiEvent, HttpResult> =>
  route(method, path, async (e) => {
    const appId = param(e, 'appId');
    const who = principal(e);
    authorizeApp(who, appId);
    requirePortalCapability(who, PORTAL_CAPABILITIES[`${method} ${path}`], `${method} ${path}`);
    return handler(e, appId, who);
  });

const services = () => wiring();

/** Every route the API serves; docs/openapi.yaml is checked against this table. */
export const routes: Route<ApiEvent, HttpResult>[] = [
  route('GET', '/health', async () => json(200, { ok: true })),

  route('POST', '/v1/apps', async (e) => {
    requireAdmin(principal(e), 'only the admin key can create apps');
    return json(201, await services().apps.createApp(e.jsonBody));
  }),
  appRoute('GET', '/v1/apps/{appId}', async (_e, appId) => json(200, await services().apps.requireApp(appId))),

  appRoute('POST', '/v1/apps/{appId}/keys', async (e, appId, who) =>
    json(201, await services().keys.create(who, appId, e.jsonBody)),
  ),
  appRoute('DELETE', '/v1/apps/{appId}/keys/{keyId}', async (e, appId, who) => {
    await services().keys.revoke(who, appId, param(e, 'keyId'));
    return json(204);
  }),

  appRoute('POST', '/v1/apps/{appId}/endpoints', async (e, appId) =>
    json(201, await services().apps.createEndpoint(appId, e.jsonBody)),
  ),
  appRoute('GET', '/v1/apps/{appId}/endpoints', async (e, appId) =>
    json(200, await services().apps.listEndpoints(appId, query(e))),
  ),
  appRoute('GET', '/v1/apps/{appId}/endpoints/{endpointId}', async (e, appId) =>
    json(200, endpointView(await services().apps.getEndpoint(appId, param(e, 'endpointId')))),
  ),
  appRoute('PATCH', '/v1/apps/{appId}/endpoints/{endpointId}', async (e, appId) =>
    json(200, await services().apps.updateEndpoint(appId, param(e, 'endpointId'), e.jsonBody)),
  ),
  appRoute('DELETE', '/v1/apps/{appId}/endpoints/{endpointId}', async (e, appId) => {
    await services().apps.deleteEndpoint(appId, param(e, 'endpointId'));
    return json(204);
  }),
  appRoute('GET', '/v1/apps/{appId}/endpoints/{endpointId}/secret', async (e, appId) =>
    json(200, await services().apps.currentSecret(appId, param(e, 'endpointId'))),
  ),
  appRoute('POST', '/v1/apps/{appId}/endpoints/{endpointId}/secret/rotate', async (e, appId) =>
    json(200, await services().apps.rotateSecret(appId, param(e, 'endpointId'))),
  ),
  appRoute('POST', '/v1/apps/{appId}/endpoints/{endpointId}/recover', async (e, appId) =>
    json(202, await services().replay.recover(appId, param(e, 'endpointId'), e.jsonBody)),
  ),

  appRoute('POST', '/v1/apps/{appId}/events', async (e, appId) =>
    json(
      202,
      await services().ingest.ingest({ appId, body: e.jsonBody, idempotencyKey: e.headers?.['idempotency-key'] }),
    ),
  ),
  appRoute('POST', '/v1/apps/{appId}/events/batch', async (e, appId) =>
    json(202, await services().ingest.ingestBatch(appId, e.jsonBody)),
  ),
  appRoute('GET', '/v1/apps/{appId}/events', async (e, appId) =>
    json(200, await services().queries.feed(appId, query(e))),
  ),
  appRoute('GET', '/v1/apps/{appId}/events/{eventId}', async (e, appId) =>
    json(200, await services().queries.status(appId, param(e, 'eventId'))),
  ),
  appRoute('GET', '/v1/apps/{appId}/events/{eventId}/attempts', async (e, appId) =>
    json(200, await services().queries.attempts(appId, param(e, 'eventId'))),
  ),
  appRoute('POST', '/v1/apps/{appId}/events/{eventId}/resend', async (e, appId) =>
    json(202, await services().replay.resend(appId, param(e, 'eventId'), e.jsonBody)),
  ),

  route('POST', '/v1/event-types', async (e) => {
    requireAdmin(principal(e), 'only the admin key can change the event-type catalog');
    return json(201, await services().eventTypes.create(e.jsonBody));
  }),
  route('GET', '/v1/event-types', async (e) => {
    principal(e);
    return json(200, await services().eventTypes.list(query(e)));
  }),
  route('GET', '/v1/event-types/{name}', async (e) => {
    principal(e);
    return json(200, await services().eventTypes.get(typeParam(e)));
  }),
  route('PATCH', '/v1/event-types/{name}', async (e) => {
    requireAdmin(principal(e), 'only the admin key can change the event-type catalog');
    return json(200, await services().eventTypes.update(typeParam(e), e.jsonBody));
  }),
  route('DELETE', '/v1/event-types/{name}', async (e) => {
    requireAdmin(principal(e), 'only the admin key can change the event-type catalog');
    await services().eventTypes.remove(typeParam(e));
    return json(204);
  }),
  appRoute('POST', '/v1/apps/{appId}/endpoints/{endpointId}/send-example', async (e, appId) =>
    json(202, await services().testEvents.sendExample(appId, param(e, 'endpointId'), e.jsonBody)),
  ),
  appRoute('GET', '/v1/apps/{appId}/endpoints/{endpointId}/deliveries', async (e, appId) =>
    json(200, await services().endpointLog.deliveries(appId, param(e, 'endpointId'), query(e))),
  ),
  appRoute('GET', '/v1/apps/{appId}/endpoints/{endpointId}/deliveries/{eventId}', async (e, appId) =>
    json(200, await services().endpointLog.delivery(appId, param(e, 'endpointId'), param(e, 'eventId'))),
  ),
  appRoute('GET', '/v1/apps/{appId}/endpoints/{endpointId}/stats', async (e, appId) =>
    json(200, await services().endpointLog.stats(appId, param(e, 'endpointId'), query(e))),
  ),
  appRoute('POST', '/v1/apps/{appId}/portal-access', async (e, appId, who) =>
    json(201, await services().portal.mint(who, appId, e.jsonBody, portalBase(e))),
  ),
  appRoute('DELETE', '/v1/apps/{appId}/portal-access', async (_e, appId, who) => {
    await services().portal.endAll(who, appId);
    return json(204);
  }),
  route('GET', '/v1/portal/session', async (e) => {
    const who = principal(e);
    if (who.kind !== 'portal') throw new ForbiddenError('only a portal link has a portal session');
    return json(200, { appId: who.appId, capabilities: who.capabilities, expiresAt: who.expiresAt });
  }),
];

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
    authenticate({ openPaths: new Set(['/health']), authenticate: (header) => services().keys.authenticate(header) }),
  )
  // The portal's own calls, per link: a token bucket in this container (see access/rate-limit.ts).
  .use(
    rateLimit((who) =>
      who?.kind === 'portal' ? services().portalRateLimiter.take(who.session) : { ok: true as const },
    ),
  )
  .use(jsonBody())
  .handler(httpRouterHandler(routes));

/** The API, and the portal's static files at /portal (no key: the page asks for its link's token). */
export const handler = async (event: ApiEvent, context: Context): Promise<HttpResult> =>
  portalAsset(isRestProxyEvent(event) ? restToHttpApiEvent(event) : event, services().cfg.portalFrameAncestors) ??
  api(event, context);
