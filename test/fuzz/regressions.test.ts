/**
 * Requests the fuzz suites found answered with a 5xx (or worse), kept as plain examples so that
 * each fix stays fixed whatever the generators draw. In process, against the embedded stack.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoke, type Handlers } from '../../infra/local/lambda';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { apiHandler } from '../helpers/api-handler';
import { RecordingReceiver } from '../helpers/receiver';
import { errorShapeProblem } from './contract';
import { createFixture } from './fixture';
import { toApiEvent, type Fixture } from './requests';

let stack: LocalStack;
let receiver: RecordingReceiver;
let f: Fixture;
let handler: Handlers['api'];
let closeHandler: (() => Promise<void>) | undefined;

beforeAll(async () => {
  receiver = await new RecordingReceiver().start();
  stack = await startLocalStack({ port: 0, quiet: true, housekeeping: false });
  ({ handler, close: closeHandler } = await apiHandler());
  f = await createFixture(stack, receiver);
});

afterAll(async () => {
  await closeHandler?.();
  await stack?.stop();
  await receiver?.stop();
});

async function call(method: string, path: string, opts: { body?: string; headers?: Record<string, string> } = {}) {
  const headers = { authorization: `Bearer ${f.adminKey}`, 'content-type': 'application/json', ...opts.headers };
  const [p, q = ''] = path.split('?');
  const event = toApiEvent(
    {
      method,
      path: p!,
      query: q,
      headers,
      body: opts.body === undefined ? undefined : Buffer.from(opts.body),
      route: { method, path },
      params: {},
    },
    randomBytes(10).toString('base64'),
  );
  const result = await invoke('api', handler, event);
  if (typeof result === 'string') throw new Error('unstructured result');
  const body = JSON.parse(result.body || '{}') as {
    error?: { code: string; message: string; details?: { path: string }[] };
  };
  return { status: result.statusCode, body };
}

function expectError(r: { status?: number; body: unknown }, status: number, code: string) {
  expect({ status: r.status, shape: errorShapeProblem(r.body) }).toEqual({ status, shape: undefined });
  expect((r.body as { error: { code: string } }).error.code).toBe(code);
}

describe('path ids that cannot name anything', () => {
  it('answers 404, not a DynamoDB key-size 500, for ids longer than any id can be', async () => {
    const long = 'a'.repeat(3000);
    expectError(await call('GET', `/v1/apps/${long}`), 404, 'not_found');
    expectError(await call('GET', `/v1/apps/${f.appA}/endpoints/${long}`), 404, 'not_found');
    expectError(await call('GET', `/v1/apps/${f.appA}/events/${long}/attempts`), 404, 'not_found');
    expectError(await call('DELETE', `/v1/apps/${f.appA}/keys/${long}`), 404, 'not_found');
  });

  it('answers 404 for ids with characters no id has, and still serves real ids', async () => {
    expectError(await call('GET', `/v1/apps/${f.appA}/endpoints/${encodeURIComponent('ep/../x')}`), 404, 'not_found');
    expectError(await call('GET', `/v1/apps/${encodeURIComponent('é')}`), 404, 'not_found');
    expect((await call('GET', `/v1/apps/${f.appA}/endpoints/${f.endpointA}`)).status).toBe(200);
    expect((await call('GET', `/v1/apps/${f.appA}/events/${f.eventA}`)).status).toBe(200);
  });
});

describe('deeply nested bodies', () => {
  it('answers 400 naming the body, not a stack-overflow 500, for event data nested 100,000 deep', async () => {
    const n = 100_000;
    const body = `{"type":"a","data":{"x":${'['.repeat(n)}${']'.repeat(n)}}}`;
    const r = await call('POST', `/v1/apps/${f.appA}/events`, { body });
    expectError(r, 400, 'validation_failed');
    expect(r.body.error?.details?.[0]?.path).toBe('(body)');
    expectError(
      await call('POST', `/v1/apps/${f.appA}/events/batch`, { body: `{"events":[${body}]}` }),
      400,
      'validation_failed',
    );
  });

  it('accepts data nested to the limit, and counts brackets inside strings as text', async () => {
    const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const atLimit = `{"type":"a","data":{"x":${nested(62)},"s":"${'['.repeat(500)}"}}`;
    expect((await call('POST', `/v1/apps/${f.appA}/events`, { body: atLimit })).status).toBe(202);
    const over = `{"type":"a","data":{"x":${nested(63)}}}`;
    expectError(await call('POST', `/v1/apps/${f.appA}/events`, { body: over }), 400, 'validation_failed');
  });
});

describe('"__proto__" keys', () => {
  it('refuses event data with a "__proto__" key, which was accepted and then silently dropped', async () => {
    const r = await call('POST', `/v1/apps/${f.appA}/events`, {
      body: '{"type":"a","data":{"keep":1,"__proto__":{"polluted":true}}}',
    });
    expectError(r, 400, 'validation_failed');
    expect(r.body.error?.details?.[0]?.path).toBe('data.__proto__');
    const nested = await call('POST', `/v1/apps/${f.appA}/events/batch`, {
      body: '{"events":[{"type":"a","data":{"a":[{"__proto__":1}]}}]}',
    });
    expectError(nested, 400, 'validation_failed');
    expect(nested.body.error?.details?.[0]?.path).toBe('events.0.data.a.0.__proto__');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps other keys that name Object.prototype members, exactly as sent', async () => {
    const data = { constructor: { prototype: { x: 1 } }, toString: 'x', hasOwnProperty: null };
    const sent = await call('POST', `/v1/apps/${f.appA}/events`, { body: JSON.stringify({ type: 'a', data }) });
    expect(sent.status).toBe(202);
    const got = await call('GET', `/v1/apps/${f.appA}/events/${(sent.body as { id?: string }).id}`);
    expect((got.body as { data?: unknown }).data).toEqual(data);
  });
});
