/**
 * The HTTP API (API Gateway HTTP API, payload 2.0). Routes are a table of thin functions over the
 * core; middleware does auth, JSON parsing and error mapping once for all of them. Every route
 * under /v1/apps/{appId} goes through `appRoute`, which lets an app-scoped key reach its own app only.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import httpRouterHandler, { type Route } from '@middy/http-router';
import { endpointView } from '../core/apps';
import { NotFoundError, UnauthorizedError, ValidationError } from '../core/errors';
import { EVENT_ID_PATTERN } from '../core/ids';
import { authorizeApp, requireAdmin, type Principal } from '../core/keys';
import { logger, metrics, wiring } from '../wiring';
import { authenticate, errorMapper, headerLimit, jsonBody, type ApiEvent } from './http/middleware';
import { json, type HttpResult } from './http/respond';
import { restProxyEvents } from './http/rest-event';

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

/** A route under /v1/apps/{appId}: the caller must be the admin or hold a key of this app. */
const appRoute = (
  method: Method,
  path: string,
  handler: (e: ApiEvent, appId: string, who: Principal) => Promise<HttpResult>,
): Route<ApiEvent, HttpResult> =>
  route(method, path, async (e) => {
    const appId = param(e, 'appId');
    const who = principal(e);
    authorizeApp(who, appId);
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
];

export const handler = middy<ApiEvent, HttpResult>()
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
  .use(jsonBody())
  .handler(httpRouterHandler(routes));
