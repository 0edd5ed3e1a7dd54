/**
 * Every documented limit (docs/security.md, the README's "Limits"), each answered with a clear
 * 4xx in the contract's shape that names what is over. Through the real api handler, in process,
 * against the embedded stack; the 413 and the header limit also over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../functions/core/schemas';
import { invoke, type Handlers } from '../../infra/local/lambda';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { errorShapeProblem } from '../fuzz/contract';
import { toApiEvent } from '../fuzz/requests';

let stack: LocalStack;
let handler: Handlers['api'];
let appId: string;

interface Answer {
  status: number;
  body: { error?: { code: string; message: string; details?: { path: string; message: string }[] }; [k: string]: unknown };
}

async function call(method: string, path: string, opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers = { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', ...opts.headers };
  const text = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const [p, q = ''] = path.split('?');
  const event = toApiEvent(
    { method, path: p!, query: q, headers, body: text === undefined ? undefined : Buffer.from(text), route: { method, path }, params: {} },
    randomBytes(10).toString('base64'),
  );
  const result = await invoke('api', handler, event);
  if (typeof result === 'string') throw new Error('unstructured result');
  return { status: result.statusCode ?? 0, body: JSON.parse(result.body || '{}') as Answer['body'] };
}

/** Asserts the contract's error shape, the status and code, and returns the error. */
function refused(r: Answer, status: number, code: string) {
  expect({ status: r.status, code: r.body.error?.code, shape: errorShapeProblem(r.body) }).toEqual({ status, code, shape: undefined });
  return r.body.error!;
}

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, housekeeping: false });
  handler = (await import('../../functions/handlers/api')).handler;
  const app = await call('POST', '/v1/apps', { body: { name: 'limits' } });
  appId = app.body.id as string;
});

afterAll(async () => {
  await stack?.stop();
});

describe('request line and headers: 10 KB, as API Gateway', () => {
  it('answers 400 headers_too_large naming the largest header, before looking at the key', async () => {
    const e = refused(await call('GET', `/v1/apps/${appId}`, { headers: { 'x-padding': 'p'.repeat(LIMITS.requestHeaderBytes) } }), 400, 'headers_too_large');
    expect(e.message).toContain(String(LIMITS.requestHeaderBytes));
    expect(e.details).toEqual([{ path: 'headers.x-padding', message: expect.stringContaining('largest') }]);
    // An oversized Authorization header is refused for its size, not compared as a key.
    refused(await call('GET', `/v1/apps/${appId}`, { headers: { authorization: `Bearer ${'k'.repeat(11_000)}` } }), 400, 'headers_too_large');
  });

  it('counts the request line and every header together, and serves a request just under the limit', async () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-h${i}`, 'v'.repeat(300)]));
    refused(await call('GET', `/v1/apps/${appId}`, { headers: many }), 400, 'headers_too_large');
    refused(await call('GET', `/v1/apps/${appId}/endpoints?cursor=${'c'.repeat(LIMITS.requestHeaderBytes)}`), 400, 'headers_too_large');
    const under = await call('GET', `/v1/apps/${appId}`, { headers: { 'x-padding': 'p'.repeat(LIMITS.requestHeaderBytes - 1000) } });
    expect(under.status).toBe(200);
  });

  it('answers the same over HTTP through the local API Gateway', async () => {
    const res = await fetch(`${stack.apiUrl}/v1/apps/${appId}`, {
      headers: { authorization: `Bearer ${stack.apiKey}`, 'x-padding': 'p'.repeat(12_000) },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as Answer['body']).error?.code).toBe('headers_too_large');
  });
});
