/**
 * The HTTP API (API Gateway HTTP API, payload 2.0). Routes are a table of thin functions over the
 * core; middleware does auth, JSON parsing and error mapping once for all of them.
 */
import middy from '@middy/core';
import httpRouterHandler, { type Route } from '@middy/http-router';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { adminKey } from '../adapters/admin-key';
import { endpointView } from '../core/apps';
import { ValidationError } from '../core/errors';
import { logger, wiring } from '../wiring';
import { authenticate, errorMapper, jsonBody, type ApiEvent } from './http/middleware';
import { json, type HttpResult } from './http/respond';

function param(e: ApiEvent, name: string): string {
  const raw = e.pathParameters?.[name] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ValidationError('malformed path', [{ path: name, message: 'is not valid percent-encoding' }]);
  }
}
const query = (e: ApiEvent) => e.queryStringParameters ?? {};

type Method = Route<ApiEvent, HttpResult>['method'];
const route = (method: Method, path: string, handler: (e: ApiEvent) => Promise<HttpResult>): Route<ApiEvent, HttpResult> => ({
  method,
  path,
  handler,
});

/** Every route the API serves; the OpenAPI document is checked against this table. */
export const routes: Route<ApiEvent, HttpResult>[] = [
  route('GET', '/health', async () => json(200, { ok: true })),
  route('POST', '/v1/apps', async (e) => json(201, await wiring().apps.createApp(e.jsonBody))),
  route('GET', '/v1/apps/{appId}', async (e) => json(200, await wiring().apps.requireApp(param(e, 'appId')))),
  route('POST', '/v1/apps/{appId}/endpoints', async (e) =>
    json(201, await wiring().apps.createEndpoint(param(e, 'appId'), e.jsonBody)),
  ),
  route('GET', '/v1/apps/{appId}/endpoints', async (e) =>
    json(200, await wiring().apps.listEndpoints(param(e, 'appId'), query(e))),
  ),
  route('GET', '/v1/apps/{appId}/endpoints/{endpointId}', async (e) =>
    json(200, endpointView(await wiring().apps.getEndpoint(param(e, 'appId'), param(e, 'endpointId')))),
  ),
  route('GET', '/v1/apps/{appId}/endpoints/{endpointId}/secret', async (e) => {
    const endpoint = await wiring().apps.getEndpoint(param(e, 'appId'), param(e, 'endpointId'));
    const current = endpoint.secrets.find((s) => s.expiresAt === undefined) ?? endpoint.secrets.at(-1);
    return json(200, { key: current?.key });
  }),
  route('POST', '/v1/apps/{appId}/events', async (e) =>
    json(
      202,
      await wiring().ingest.ingest({
        appId: param(e, 'appId'),
        body: e.jsonBody,
        idempotencyKey: e.headers?.['idempotency-key'],
      }),
    ),
  ),
  route('POST', '/v1/apps/{appId}/events/batch', async (e) =>
    json(202, await wiring().ingest.ingestBatch(param(e, 'appId'), e.jsonBody)),
  ),
  route('GET', '/v1/apps/{appId}/events/{eventId}', async (e) =>
    json(200, await wiring().queries.status(param(e, 'appId'), param(e, 'eventId'))),
  ),
  route('GET', '/v1/apps/{appId}/events/{eventId}/attempts', async (e) =>
    json(200, await wiring().queries.attempts(param(e, 'appId'), param(e, 'eventId'))),
  ),
];

export const handler = middy<ApiEvent, HttpResult>()
  .use(injectLambdaContext(logger))
  .use(errorMapper(logger))
  .use(authenticate({ openPaths: new Set(['/health']), adminKey: () => adminKey(wiring().cfg) }))
  .use(jsonBody())
  .handler(httpRouterHandler(routes));
