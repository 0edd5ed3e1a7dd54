/**
 * The api function serves two API Gateway shapes: an HTTP API (payload format 2.0, the default)
 * and a REST API's Lambda proxy integration (payload format 1.0, `-c hookrelay:api=rest`, for
 * LocalStack's free image). This middleware turns a 1.0 event into the 2.0 shape first, so the
 * router, the middleware and every route see one shape. The answer needs no translation: both
 * formats take `{statusCode, headers, body}`.
 */
import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';

/** A REST API (1.0) event: it has `httpMethod` where a 2.0 event has `requestContext.http`. */
export function isRestProxyEvent(event: unknown): event is APIGatewayProxyEvent {
  const e = event as Partial<APIGatewayProxyEvent> | null;
  return typeof e?.httpMethod === 'string' && typeof e.path === 'string';
}

/**
 * The 2.0 event API Gateway would have sent for the same request: header names lower-cased and
 * repeated values joined by commas, as HTTP APIs do; the query string rebuilt from its values.
 */
export function restToHttpApiEvent(e: APIGatewayProxyEvent): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  const multi = e.multiValueHeaders ?? {};
  for (const [name, value] of Object.entries(e.headers ?? {})) {
    const values = multi[name] ?? (value === undefined ? [] : [value]);
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? values.join(',') : `${headers[key]},${values.join(',')}`;
  }
  const query = new URLSearchParams();
  const queryStringParameters: Record<string, string> = {};
  const multiQuery = e.multiValueQueryStringParameters ?? {};
  for (const [name, value] of Object.entries(e.queryStringParameters ?? {})) {
    const values = multiQuery[name] ?? (value === undefined ? [] : [value]);
    for (const v of values) query.append(name, v);
    queryStringParameters[name] = values.join(',');
  }
  const ctx = e.requestContext;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: e.path,
    rawQueryString: query.toString(),
    headers,
    queryStringParameters: Object.keys(queryStringParameters).length > 0 ? queryStringParameters : undefined,
    body: e.body ?? undefined,
    isBase64Encoded: e.isBase64Encoded,
    requestContext: {
      accountId: ctx.accountId,
      apiId: ctx.apiId,
      domainName: ctx.domainName ?? '',
      domainPrefix: ctx.domainPrefix ?? '',
      requestId: ctx.requestId,
      routeKey: '$default',
      stage: ctx.stage,
      time: ctx.requestTime ?? '',
      timeEpoch: ctx.requestTimeEpoch,
      http: {
        method: e.httpMethod.toUpperCase(),
        path: e.path,
        protocol: ctx.protocol,
        sourceIp: ctx.identity?.sourceIp ?? '',
        userAgent: ctx.identity?.userAgent ?? headers['user-agent'] ?? '',
      },
    },
  };
}

/** Rewrites a REST API event into the HTTP API shape before anything else reads it. */
export function restProxyEvents<R>(): MiddlewareObj<APIGatewayProxyEventV2, R> {
  return {
    before: (request) => {
      const event: unknown = request.event;
      if (isRestProxyEvent(event)) request.event = restToHttpApiEvent(event);
    },
  };
}
