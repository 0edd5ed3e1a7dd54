import { request } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../infra/local/stack';
import { recorder, startFakeStack } from '../helpers/local-stack';

/** What the fake api handler answers next; each test sets it. */
let answer: (event: APIGatewayProxyEventV2) => APIGatewayProxyResultV2 | Promise<APIGatewayProxyResultV2>;
const api = recorder<APIGatewayProxyEventV2, APIGatewayProxyResultV2>((event) => answer(event));
let stack: LocalStack;

beforeAll(async () => {
  stack = await startFakeStack({ handlers: { api: api.handler } });
});
afterAll(() => stack.stop());
beforeEach(() => {
  api.calls.length = 0;
  answer = () => ({ statusCode: 204 });
});

/** A raw request: node:http, because fetch cannot repeat a header. rawHeaders is [name, value, ...]. */
function send(
  method: string,
  path: string,
  rawHeaders: string[] = [],
  body?: Buffer | string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, stack.apiUrl);
    // With headers given as an array, node:http adds no Host of its own.
    const headers = ['Host', url.host, ...rawHeaders];
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('local API Gateway (HTTP API, payload format 2.0)', () => {
  it('builds the v2 event: method, raw path and query, joined headers, cookies, request context', async () => {
    const res = await send('GET', '/v1/apps/app_1/events?after=c1&limit=5&tag=a&tag=b%20c', [
      'X-Trace',
      'one',
      'X-Trace',
      'two',
      'User-Agent',
      'probe/1.0',
      'Cookie',
      'a=1; b=2',
    ]);

    expect(res.status).toBe(204);
    const event = api.calls[0]!;
    expect(event.version).toBe('2.0');
    expect(event.routeKey).toBe('$default');
    expect(event.rawPath).toBe('/v1/apps/app_1/events');
    expect(event.rawQueryString).toBe('after=c1&limit=5&tag=a&tag=b%20c');
    expect(event.queryStringParameters).toEqual({ after: 'c1', limit: '5', tag: 'a,b c' });
    expect(event.pathParameters).toBeUndefined();
    expect(event.headers['x-trace']).toBe('one,two');
    expect(event.headers['user-agent']).toBe('probe/1.0');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.cookies).toEqual(['a=1', 'b=2']);
    expect(event.body).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);
    expect(event.requestContext).toMatchObject({
      http: {
        method: 'GET',
        path: '/v1/apps/app_1/events',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'probe/1.0',
      },
      routeKey: '$default',
      stage: '$default',
      accountId: expect.stringMatching(/^\d{12}$/),
      apiId: expect.any(String),
      domainName: expect.any(String),
      domainPrefix: expect.any(String),
      time: expect.stringMatching(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/),
    });
    expect(Math.abs(event.requestContext.timeEpoch - Date.now())).toBeLessThan(5_000);
    // The request id the handler sees is the one the client gets back.
    expect(event.requestContext.requestId).toBe(res.headers['apigw-requestid']);
  });

  it('passes a JSON body as text and a binary body as base64', async () => {
    await send('POST', '/v1/apps', ['Content-Type', 'application/json'], '{"name":"é"}');
    const bytes = Buffer.from([0xff, 0x00, 0xfe, 0x10]);
    await send('POST', '/upload', ['Content-Type', 'application/octet-stream'], bytes);

    expect(api.calls[0]).toMatchObject({ body: '{"name":"é"}', isBase64Encoded: false });
    expect(api.calls[0]!.requestContext.http.method).toBe('POST');
    expect(api.calls[1]).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
  });

  it('maps a structured result: status, headers, cookies, and a base64 body', async () => {
    answer = () => ({
      statusCode: 201,
      headers: { 'content-type': 'application/json', 'x-count': 3 },
      cookies: ['s=1; HttpOnly', 't=2'],
      body: Buffer.from('{"id":"x"}').toString('base64'),
      isBase64Encoded: true,
    });

    const res = await send('POST', '/v1/apps', ['Content-Type', 'application/json'], '{}');

    expect(res.status).toBe(201);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['x-count']).toBe('3');
    expect(res.headers['set-cookie']).toEqual(['s=1; HttpOnly', 't=2']);
    expect(res.body.toString()).toBe('{"id":"x"}');
  });

  it('treats a result without statusCode as a 200 JSON body, as API Gateway does', async () => {
    answer = () => ({ ok: true }) as unknown as APIGatewayProxyResultV2;

    const res = await send('GET', '/health');

    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json');
    expect(JSON.parse(res.body.toString())).toEqual({ ok: true });
  });

  it('answers a generic 500 when the handler throws, without the cause', async () => {
    answer = () => {
      throw new Error('secret database detail');
    };

    const res = await send('GET', '/v1/apps/x');

    expect(res.status).toBe(500);
    expect(JSON.parse(res.body.toString())).toEqual({ error: { code: 'internal', message: 'Internal Server Error' } });
    expect(res.headers['apigw-requestid']).toEqual(expect.any(String));
  });

  it('refuses a body over 10 MB with 413 without invoking the handler', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024 + 1, 'a');

    const res = await send('POST', '/v1/apps/a/events', ['Content-Type', 'application/json'], big);

    expect(res.status).toBe(413);
    expect(JSON.parse(res.body.toString()).error.code).toBe('payload_too_large');
    expect(api.calls).toHaveLength(0);
  });

  it('accepts a body of exactly 10 MB', async () => {
    const res = await send(
      'POST',
      '/v1/apps/a/events',
      ['Content-Type', 'text/plain'],
      Buffer.alloc(10 * 1024 * 1024, 'a'),
    );

    expect(res.status).toBe(204);
    expect(api.calls[0]!.body).toHaveLength(10 * 1024 * 1024);
  });
});
