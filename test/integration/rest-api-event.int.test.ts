/**
 * The REST API shape (`-c hookrelay:api=rest`) sends the api function payload format 1.0. These
 * tests call the real api handler, over the embedded stack's emulators, with 1.0 events shaped as
 * API Gateway's Lambda proxy integration sends them, and compare the answers with what the same
 * requests get through the HTTP API shape (the local stack's 2.0 front).
 */
import type { APIGatewayProxyEvent, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaContext } from '../../infra/local/lambda';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { restToHttpApiEvent } from '../../functions/handlers/http/rest-event';
import { apiHandler } from '../helpers/api-handler';

type ApiHandler = (event: unknown, context: unknown) => Promise<APIGatewayProxyStructuredResultV2>;

/** A proxy-integration event for `{proxy+}`, as a REST API stage named `api` sends it. */
function restEvent(
  method: string,
  path: string,
  opts: { headers?: Record<string, string[]>; query?: Record<string, string[]>; body?: string } = {},
): APIGatewayProxyEvent {
  const multiValueHeaders = opts.headers ?? {};
  const multiValueQueryStringParameters = opts.query ?? null;
  const last = (m: Record<string, string[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.at(-1)!]));
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers: last(multiValueHeaders),
    multiValueHeaders,
    queryStringParameters: multiValueQueryStringParameters && last(multiValueQueryStringParameters),
    multiValueQueryStringParameters,
    pathParameters: { proxy: path.slice(1) },
    stageVariables: null,
    body: opts.body ?? null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      authorizer: undefined,
      protocol: 'HTTP/1.1',
      httpMethod: method,
      identity: { sourceIp: '198.51.100.7', userAgent: 'test' } as APIGatewayProxyEvent['requestContext']['identity'],
      path: `/api${path}`,
      stage: 'api',
      requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      requestTimeEpoch: Date.now(),
      resourceId: 'xyz',
      resourcePath: '/{proxy+}',
    },
  };
}

describe('the api function behind a REST API (payload format 1.0)', () => {
  let stack: LocalStack;
  let handler: ApiHandler;
  let closeHandler: (() => Promise<void>) | undefined;
  const call = async (e: APIGatewayProxyEvent) => {
    const res = await handler(e, lambdaContext('api', Date.now() + 10_000));
    return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : undefined };
  };

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, quiet: true, housekeeping: false });
    const api = await apiHandler();
    handler = api.handler as unknown as ApiHandler;
    closeHandler = api.close;
  });
  afterAll(async () => {
    await closeHandler?.();
    await stack?.stop();
  });

  it('answers GET /health with 200 {"ok": true}', async () => {
    expect(await call(restEvent('GET', '/health'))).toEqual({ status: 200, body: { ok: true } });
  });

  it('creates an app and reads it back, with the key in a mixed-case Authorization header', async () => {
    const auth = { Authorization: [`Bearer ${stack.apiKey}`], 'Content-Type': ['application/json'] };
    const created = await call(restEvent('POST', '/v1/apps', { headers: auth, body: '{"name":"rest shop"}' }));
    expect(created.status).toBe(201);
    const id = String(created.body?.id);
    const read = await call(restEvent('GET', `/v1/apps/${id}`, { headers: auth }));
    expect(read).toEqual({ status: 200, body: created.body });

    // The same app through the HTTP API shape: one system, two fronts.
    const viaHttp = await fetch(`${stack.apiUrl}/v1/apps/${id}`, {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(await viaHttp.json()).toEqual(created.body);
  });

  it('answers 401 in the contract shape without a key, and 404 naming an unknown route', async () => {
    const noKey = await call(restEvent('GET', '/v1/apps/app_x'));
    expect(noKey.status).toBe(401);
    expect(noKey.body).toEqual({ error: expect.objectContaining({ code: 'unauthorized' }) });
    const auth = { authorization: [`Bearer ${stack.apiKey}`] };
    const missing = await call(restEvent('GET', '/v2/nothing', { headers: auth }));
    expect(missing.status).toBe(404);
    expect(JSON.stringify(missing.body)).toContain('GET /v2/nothing');
  });

  it('reads the feed with its query string from the 1.0 event', async () => {
    const auth = { authorization: [`Bearer ${stack.apiKey}`], 'content-type': ['application/json'] };
    const app = await call(restEvent('POST', '/v1/apps', { headers: auth, body: '{"name":"feed"}' }));
    const id = String(app.body?.id);
    const bad = await call(restEvent('GET', `/v1/apps/${id}/events`, { headers: auth, query: { limit: ['0'] } }));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('limit');
    const ok = await call(restEvent('GET', `/v1/apps/${id}/events`, { headers: auth, query: { limit: ['5'] } }));
    expect(ok).toEqual({ status: 200, body: { items: [], nextCursor: null } });
  });
});

describe('restToHttpApiEvent', () => {
  it('lower-cases header names and joins repeated headers and query values with commas, as HTTP APIs do', () => {
    const v2 = restToHttpApiEvent(
      restEvent('get', '/v1/apps/a', {
        headers: { 'X-Thing': ['1', '2'], Accept: ['application/json'] },
        query: { tag: ['a', 'b c'], limit: ['5'] },
      }),
    );
    expect(v2.requestContext.http.method).toBe('GET');
    expect(v2.rawPath).toBe('/v1/apps/a');
    expect(v2.headers).toEqual({ 'x-thing': '1,2', accept: 'application/json' });
    expect(v2.queryStringParameters).toEqual({ tag: 'a,b c', limit: '5' });
    expect(v2.rawQueryString).toBe('tag=a&tag=b+c&limit=5');
    expect(v2.pathParameters).toBeUndefined();
  });
});
