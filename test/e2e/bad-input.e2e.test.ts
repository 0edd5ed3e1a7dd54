/** Every bad request gets a clear 4xx in the contract's error shape, never a 5xx. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schemas } from '../../client';
import { startTarget, testApi, type Api, type Target } from '../helpers/target';

let target: Target;
let api: Api;
let appId: string;

beforeAll(async () => {
  target = await startTarget();
  api = testApi(target);
  appId = await api.createApp();
});

afterAll(async () => {
  await target?.stop();
});

function expectError(r: { status: number; body: unknown }, status: number, code: string) {
  expect(r.status).toBe(status);
  const body = r.body as Schemas['Error'];
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+|stack|Exception/);
  return body.error;
}

describe('bad input', () => {
  it('serves /health without a key', async () => {
    const r = await api.raw('GET', '/health', undefined, { key: null });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ ok: true });
  });

  it('answers 401 without a key, with a malformed header, and with a wrong key', async () => {
    expectError(await api.raw('GET', `/v1/apps/${appId}`, undefined, { key: null }), 401, 'unauthorized');
    expectError(
      await api.raw('GET', `/v1/apps/${appId}`, undefined, { headers: { authorization: 'Basic abc' } }),
      401,
      'unauthorized',
    );
    expectError(await api.raw('GET', `/v1/apps/${appId}`, undefined, { key: 'wrong' }), 401, 'unauthorized');
  });

  it('answers 400 naming the failing fields', async () => {
    const e = expectError(
      await api.raw('POST', `/v1/apps/${appId}/events`, { type: '', data: 'x', extra: 1 }),
      400,
      'validation_failed',
    );
    const paths = e.details?.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['type', 'data', '(body)']));
    expect(e.details?.find((d) => d.path === '(body)')?.message).toContain('extra');
  });

  it('answers 400 for a body that is missing or not an object', async () => {
    expectError(await api.raw('POST', '/v1/apps', undefined), 400, 'validation_failed');
    expectError(await api.raw('POST', '/v1/apps', [1, 2]), 400, 'validation_failed');
  });

  it('answers 400 for malformed JSON', async () => {
    expectError(await api.raw('POST', '/v1/apps', undefined, { raw: '{"name": ' }), 400, 'malformed_json');
  });

  it('answers 415 for a body that is not JSON', async () => {
    const e = expectError(
      await api.raw('POST', '/v1/apps', undefined, {
        raw: 'name=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'unsupported_media_type',
    );
    expect(e.message).toContain('application/json');
  });

  it('answers 413 for an oversized body', async () => {
    const raw = JSON.stringify({ name: 'x'.repeat(7 * 1024 * 1024) });
    const r = await api.raw('POST', '/v1/apps', undefined, { raw });
    expect(r.status).toBe(413);
    expect((r.body as Schemas['Error']).error.code).toBe('payload_too_large');
  });

  it('answers 400 for event data over 256 KB', async () => {
    const e = expectError(
      await api.raw('POST', `/v1/apps/${appId}/events`, { type: 'big', data: { blob: 'x'.repeat(300 * 1024) } }),
      400,
      'validation_failed',
    );
    expect(e.details?.[0]?.path).toBe('data');
  });

  it('answers 404 for an unknown app, event, endpoint and route', async () => {
    expectError(await api.raw('GET', '/v1/apps/app_00000000000000000000000000'), 404, 'not_found');
    expectError(
      await api.raw('POST', '/v1/apps/app_00000000000000000000000000/events', { type: 'a', data: {} }),
      404,
      'not_found',
    );
    expectError(await api.raw('GET', `/v1/apps/${appId}/events/nope`), 404, 'not_found');
    expectError(await api.raw('GET', `/v1/apps/${appId}/endpoints/ep_nope`), 404, 'not_found');
    expectError(await api.raw('GET', '/v1/nothing-here'), 404, 'not_found');
  });

  it('answers 400 for a malformed event id or Idempotency-Key', async () => {
    const events = `/v1/apps/${appId}/events`;
    expectError(await api.raw('POST', events, { type: 'a', data: {}, id: 'has spaces' }), 400, 'validation_failed');
    expectError(
      await api.raw('POST', events, { type: 'a', data: {} }, { headers: { 'idempotency-key': 'x'.repeat(200) } }),
      400,
      'validation_failed',
    );
  });

  it('refuses an endpoint URL that is not http(s) or carries credentials', async () => {
    for (const url of ['ftp://example.com/x', 'not a url', 'https://user:pass@example.com/x']) {
      const r = await api.raw('POST', `/v1/apps/${appId}/endpoints`, { url });
      expect([400, 422]).toContain(r.status);
      expect((r.body as Schemas['Error']).error.details?.[0]?.path).toBe('url');
    }
  });

  it('answers 400 for a bad page size or cursor', async () => {
    expectError(await api.raw('GET', `/v1/apps/${appId}/endpoints?limit=0`), 400, 'validation_failed');
    expectError(await api.raw('GET', `/v1/apps/${appId}/endpoints?limit=abc`), 400, 'validation_failed');
    expectError(await api.raw('GET', `/v1/apps/${appId}/endpoints?cursor=garbage`), 400, 'validation_failed');
  });

  it('answers per item in a batch, in input order', async () => {
    const r = await api.hr.POST('/v1/apps/{appId}/events/batch', {
      params: { path: { appId } },
      body: {
        events: [
          { type: 'ok', data: {} },
          { type: '', data: {} },
          { type: 'ok', data: { n: 2 }, id: 'b-2' },
        ],
      },
    });
    expect(r.response.status).toBe(202);
    expect(r.data?.items[0]).toMatchObject({ id: expect.any(String), deliveries: 0 });
    expect(r.data?.items[1]).toMatchObject({ error: { code: 'validation_failed' } });
    expect(r.data?.items[2]).toEqual({ id: 'b-2', deliveries: 0 });
  });

  it('refuses a body that is not valid UTF-8 with 400, and stores nothing', async () => {
    // 0xC3 0x28: a two-byte sequence cut short; 0xFF never appears in UTF-8.
    for (const bad of [
      Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
      Buffer.from('{"type":"a","data":{"x":"\xff"}}', 'latin1'),
    ]) {
      const res = await fetch(`${target.apiUrl}/v1/apps/${appId}/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'application/json' },
        body: bad,
      });
      const body = (await res.json()) as Schemas['Error'];
      expect(res.status).toBe(400);
      expect(body.error).toMatchObject({
        code: 'validation_failed',
        details: [{ path: '(body)', message: expect.stringMatching(/UTF-8/) }],
      });
    }
  });

  it('answers a 70 KB header with the documented 400 headers_too_large, naming it', async () => {
    const r = await api.raw('GET', `/v1/apps/${appId}`, undefined, { headers: { 'x-big': 'a'.repeat(70 * 1024) } });
    const error = expectError(r, 400, 'headers_too_large');
    expect(error.details).toEqual([{ path: 'headers.x-big', message: expect.stringMatching(/largest header/) }]);
  });

  it('answers a wrong method on a known path with 405 and Allow', async () => {
    const r = await api.raw('PUT', `/v1/apps/${appId}/endpoints/ep_1`, {});
    expectError(r, 405, 'method_not_allowed');
    expect(r.headers.get('allow')).toBe('GET, PATCH, DELETE');
    const events = await api.raw('DELETE', `/v1/apps/${appId}/events`);
    expectError(events, 405, 'method_not_allowed');
    expect(events.headers.get('allow')).toBe('POST, GET');
  });

  it('names the Idempotency-Key header as the place of a bad key', async () => {
    const r = await api.raw(
      'POST',
      `/v1/apps/${appId}/events`,
      { type: 'a', data: {} },
      { headers: { 'idempotency-key': 'bad key!' } },
    );
    const error = expectError(r, 400, 'validation_failed');
    expect(error.details).toEqual([{ path: 'header.idempotency-key', message: expect.any(String) }]);
  });

  it('explains an invalid catalog schema in one line per problem, not the validator’s branches', async () => {
    const r = await api.raw('POST', '/v1/event-types', {
      name: `bad.schema.${Date.now()}`,
      schema: { type: 'objekt' },
    });
    const error = expectError(r, 400, 'validation_failed');
    expect(error.details).toEqual([
      {
        path: 'schema.type',
        message: 'must be one of array, boolean, integer, null, number, object, string, or a list of them',
      },
    ]);
  });
});
