/**
 * Every documented limit (docs/security.md, the README's "Limits"), each answered with a clear
 * 4xx in the contract's shape that names what is over. Through the real api handler, in process,
 * against the embedded stack; the 413 and the header limit also over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schemas } from '../../client';
import { LIMITS } from '../../functions/api/schemas';
import { invoke, type Handlers } from '../../infra/local/lambda';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { errorShapeProblem } from '../fuzz/contract';
import { toApiEvent } from '../fuzz/requests';
import { apiHandler } from '../helpers/api-handler';

let stack: LocalStack;
let handler: Handlers['api'];
let closeHandler: (() => Promise<void>) | undefined;
let appId: string;

interface Answer {
  status: number;
  /** An error in the API's documented shape, or whatever else the handler answered. */
  body: Partial<Schemas['Error']> & Record<string, unknown>;
}

async function call(
  method: string,
  path: string,
  opts: { body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers = { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json', ...opts.headers };
  const text = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const [p, q = ''] = path.split('?');
  const event = toApiEvent(
    {
      method,
      path: p!,
      query: q,
      headers,
      body: text === undefined ? undefined : Buffer.from(text),
      route: { method, path },
      params: {},
    },
    randomBytes(10).toString('base64'),
  );
  const result = await invoke('api', handler, event);
  if (typeof result === 'string') throw new Error('unstructured result');
  return { status: result.statusCode ?? 0, body: JSON.parse(result.body || '{}') as Answer['body'] };
}

/** Asserts the contract's error shape, the status and code, and returns the error. */
function refused(r: Answer, status: number, code: string) {
  expect({ status: r.status, code: r.body.error?.code, shape: errorShapeProblem(r.body) }).toEqual({
    status,
    code,
    shape: undefined,
  });
  return r.body.error!;
}

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, housekeeping: false });
  ({ handler, close: closeHandler } = await apiHandler());
  const app = await call('POST', '/v1/apps', { body: { name: 'limits' } });
  appId = app.body.id as string;
});

afterAll(async () => {
  await closeHandler?.();
  await stack?.stop();
});

describe('request line and headers: 10 KB, as API Gateway', () => {
  it('answers 400 headers_too_large naming the largest header, before looking at the key', async () => {
    const e = refused(
      await call('GET', `/v1/apps/${appId}`, { headers: { 'x-padding': 'p'.repeat(LIMITS.requestHeaderBytes) } }),
      400,
      'headers_too_large',
    );
    expect(e.message).toContain(String(LIMITS.requestHeaderBytes));
    expect(e.details).toEqual([{ path: 'headers.x-padding', message: expect.stringContaining('largest') }]);
    // An oversized Authorization header is refused for its size, not compared as a key.
    refused(
      await call('GET', `/v1/apps/${appId}`, { headers: { authorization: `Bearer ${'k'.repeat(11_000)}` } }),
      400,
      'headers_too_large',
    );
  });

  it('counts the request line and every header together, and serves a request just under the limit', async () => {
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-h${i}`, 'v'.repeat(300)]));
    refused(await call('GET', `/v1/apps/${appId}`, { headers: many }), 400, 'headers_too_large');
    refused(
      await call('GET', `/v1/apps/${appId}/endpoints?cursor=${'c'.repeat(LIMITS.requestHeaderBytes)}`),
      400,
      'headers_too_large',
    );
    const under = await call('GET', `/v1/apps/${appId}`, {
      headers: { 'x-padding': 'p'.repeat(LIMITS.requestHeaderBytes - 1000) },
    });
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

describe('endpoints per app: 100', () => {
  it('answers 422 naming the limit for the 101st endpoint, and accepts one again after a delete', async () => {
    const app = (await call('POST', '/v1/apps', { body: { name: 'full' } })).body.id as string;
    const url = 'http://127.0.0.1:4000/hook';
    const ids: string[] = [];
    for (let i = 0; i < LIMITS.endpointsPerApp; i++) {
      const r = await call('POST', `/v1/apps/${app}/endpoints`, { body: { url, eventTypes: ['never.sent'] } });
      expect(r.status).toBe(201);
      ids.push(r.body.id as string);
    }
    const e = refused(await call('POST', `/v1/apps/${app}/endpoints`, { body: { url } }), 422, 'unprocessable');
    expect(e.message).toContain(`${LIMITS.endpointsPerApp} endpoints`);
    expect(e.details).toEqual([
      { path: 'endpoints', message: expect.stringContaining(`at most ${LIMITS.endpointsPerApp}`) },
    ]);

    expect((await call('DELETE', `/v1/apps/${app}/endpoints/${ids[0]}`)).status).toBe(204);
    expect((await call('POST', `/v1/apps/${app}/endpoints`, { body: { url } })).status).toBe(201);
    // The limit is per app: another app is not affected.
    expect((await call('POST', `/v1/apps/${appId}/endpoints`, { body: { url } })).status).toBe(201);
  });
});

describe('bodies', () => {
  it(`answers 413 for a body over ${LIMITS.requestBodyBytes} bytes`, async () => {
    const raw = JSON.stringify({ name: 'x'.repeat(LIMITS.requestBodyBytes) });
    const e = refused(await call('POST', '/v1/apps', { raw }), 413, 'payload_too_large');
    expect(e.message).toContain(String(LIMITS.requestBodyBytes));
  });

  it('answers 413 over HTTP too', async () => {
    const res = await fetch(`${stack.apiUrl}/v1/apps`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x'.repeat(LIMITS.requestBodyBytes) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as Answer['body']).error?.code).toBe('payload_too_large');
  });

  it(`answers 400 on data for event data over ${LIMITS.eventDataBytes} bytes`, async () => {
    const e = refused(
      await call('POST', `/v1/apps/${appId}/events`, {
        body: { type: 'a', data: { b: 'x'.repeat(LIMITS.eventDataBytes) } },
      }),
      400,
      'validation_failed',
    );
    expect(e.details?.[0]?.path).toBe('data');
  });

  it(`answers 400 on (body) for nesting over ${LIMITS.jsonDepth} levels`, async () => {
    const raw = `{"type":"a","data":{"x":${'['.repeat(LIMITS.jsonDepth)}${']'.repeat(LIMITS.jsonDepth)}}}`;
    expect(
      refused(await call('POST', `/v1/apps/${appId}/events`, { raw }), 400, 'validation_failed').details?.[0]?.path,
    ).toBe('(body)');
  });

  it('answers 400 on events for a batch of more than 100', async () => {
    const events = Array.from({ length: 101 }, () => ({ type: 'a', data: {} }));
    expect(
      refused(await call('POST', `/v1/apps/${appId}/events/batch`, { body: { events } }), 400, 'validation_failed')
        .details?.[0]?.path,
    ).toBe('events');
  });
});

describe('event types and ids', () => {
  it(`answers 400 on eventTypes for more than ${LIMITS.eventTypesPerEndpoint} types on an endpoint`, async () => {
    const eventTypes = Array.from({ length: LIMITS.eventTypesPerEndpoint + 1 }, (_, i) => `t${i}`);
    const e = refused(
      await call('POST', `/v1/apps/${appId}/endpoints`, { body: { url: 'http://127.0.0.1:4000/', eventTypes } }),
      400,
      'validation_failed',
    );
    expect(e.details?.[0]?.path).toBe('eventTypes');
  });

  it(`answers 400 on type for an event type over ${LIMITS.eventTypeLength} characters or outside letters, digits and _ . : / -`, async () => {
    for (const type of ['t'.repeat(LIMITS.eventTypeLength + 1), 'has space', '.starts-with-dot', 'é']) {
      const e = refused(
        await call('POST', `/v1/apps/${appId}/events`, { body: { type, data: {} } }),
        400,
        'validation_failed',
      );
      expect(e.details?.[0]?.path).toBe('type');
    }
    expect(
      (await call('POST', `/v1/apps/${appId}/events`, { body: { type: 't'.repeat(LIMITS.eventTypeLength), data: {} } }))
        .status,
    ).toBe(202);
  });

  it('answers 400 on id for an event id over 128 characters or outside letters, digits and _ . : -', async () => {
    for (const id of ['i'.repeat(129), 'a/b', 'a b', '-lead']) {
      const e = refused(
        await call('POST', `/v1/apps/${appId}/events`, { body: { type: 'a', data: {}, id } }),
        400,
        'validation_failed',
      );
      expect(e.details?.[0]?.path).toBe('id');
    }
    const header = refused(
      await call('POST', `/v1/apps/${appId}/events`, {
        body: { type: 'a', data: {} },
        headers: { 'idempotency-key': 'i'.repeat(129) },
      }),
      400,
      'validation_failed',
    );
    expect(header.message).toContain('Idempotency-Key');
  });
});

describe('other fields', () => {
  it('answers 400 naming the field for a name, description, URL or page size out of bounds', async () => {
    expect(
      refused(
        await call('POST', '/v1/apps', { body: { name: 'n'.repeat(LIMITS.nameLength + 1) } }),
        400,
        'validation_failed',
      ).details?.[0]?.path,
    ).toBe('name');
    const long = { url: 'http://127.0.0.1:4000/', description: 'd'.repeat(LIMITS.descriptionLength + 1) };
    expect(
      refused(await call('POST', `/v1/apps/${appId}/endpoints`, { body: long }), 400, 'validation_failed').details?.[0]
        ?.path,
    ).toBe('description');
    const url = `http://127.0.0.1:4000/${'u'.repeat(LIMITS.urlLength)}`;
    expect(
      refused(await call('POST', `/v1/apps/${appId}/endpoints`, { body: { url } }), 400, 'validation_failed')
        .details?.[0]?.path,
    ).toBe('url');
    expect(
      refused(
        await call('GET', `/v1/apps/${appId}/endpoints?limit=${LIMITS.pageSizeMax + 1}`),
        400,
        'validation_failed',
      ).details?.[0]?.path,
    ).toBe('limit');
  });
});
