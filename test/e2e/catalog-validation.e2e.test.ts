/**
 * Catalog validation, opt-in, through the public API: an event type with `validate: true` refuses
 * events whose data breaks its schema (422, each failing path named), in a POST and in each item
 * of a batch; an app with `knownEventTypesOnly` refuses types the catalog does not list. Off by
 * default: a schema is otherwise documentation, and any type goes.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schemas } from '../../client';
import { startTarget, testApi, type Api, type Target } from '../helpers/target';

let target: Target;
let api: Api;
let appId: string;
const suffix = randomBytes(4).toString('hex');
const VALIDATED = `invoice.validated.${suffix}`;
const DOCUMENTED = `invoice.documented.${suffix}`;
const SCHEMA = { type: 'object', required: ['amount'], properties: { amount: { type: 'integer' } } };

beforeAll(async () => {
  target = await startTarget();
  api = testApi(target);
  appId = await api.createApp('catalog validation');
  for (const [name, validate] of [
    [VALIDATED, true],
    [DOCUMENTED, false],
  ] as const) {
    const r = await api.raw('POST', '/v1/event-types', { name, schema: SCHEMA, examples: [{ amount: 1 }], validate });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body).toMatchObject({ name, validate });
  }
});

afterAll(async () => {
  if (api) for (const name of [VALIDATED, DOCUMENTED]) await api.raw('DELETE', `/v1/event-types/${name}`);
  await target?.stop();
});

const details = (r: { body: unknown }) => (r.body as Schemas['Error']).error.details;
const send = (type: string, data: unknown, app = appId) => api.raw('POST', `/v1/apps/${app}/events`, { type, data });

/** Retries until `ok` (another API container sees a catalog change within its 10 s cache). */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('catalog validation', () => {
  it('refuses data that breaks a validating type’s schema with 422, naming each path', async () => {
    const wrong = await send(VALIDATED, { amount: 'lots' });
    expect(wrong.status).toBe(422);
    expect((wrong.body as Schemas['Error']).error.code).toBe('unprocessable');
    expect(details(wrong)).toEqual([{ path: 'data.amount', message: 'must be integer' }]);
    expect(details(await send(VALIDATED, {}))).toEqual([
      { path: 'data', message: "must have required property 'amount'" },
    ]);
    expect((await send(VALIDATED, { amount: 3 })).status).toBe(202);
  });

  it('takes anything of a type whose schema is documentation only', async () => {
    expect((await send(DOCUMENTED, { amount: 'lots' })).status).toBe(202);
  });

  it('answers each batch item on its own', async () => {
    const r = await api.raw('POST', `/v1/apps/${appId}/events/batch`, {
      events: [
        { type: VALIDATED, data: { amount: 1 } },
        { type: VALIDATED, data: { amount: 1.5 } },
      ],
    });
    expect(r.status).toBe(202);
    const items = (r.body as { items: Record<string, unknown>[] }).items;
    expect(items[0]).toMatchObject({ deliveries: 0 });
    expect(items[1]).toEqual({
      error: expect.objectContaining({
        code: 'unprocessable',
        details: [{ path: 'events.1.data.amount', message: 'must be integer' }],
      }),
    });
  });

  it('stops refusing once the type no longer validates', async () => {
    const name = `invoice.toggled.${suffix}`;
    await api.raw('POST', '/v1/event-types', { name, schema: SCHEMA, validate: true });
    try {
      expect(
        (
          await eventually(
            () => send(name, {}),
            (r) => r.status === 422,
          )
        ).status,
      ).toBe(422);
      const patched = await api.raw('PATCH', `/v1/event-types/${name}`, { validate: false });
      expect(patched.body).toMatchObject({ validate: false });
      expect(
        (
          await eventually(
            () => send(name, {}),
            (r) => r.status === 202,
          )
        ).status,
      ).toBe(202);
    } finally {
      await api.raw('DELETE', `/v1/event-types/${name}`);
    }
  });

  it('refuses validate without a schema to validate against', async () => {
    const r = await api.raw('POST', '/v1/event-types', { name: `invoice.noschema.${suffix}`, validate: true });
    expect(r.status).toBe(400);
    expect(details(r)).toEqual([{ path: 'validate', message: expect.stringMatching(/with a schema/) }]);
  });
});

describe('an app that takes known event types only', () => {
  it('refuses a type the catalog does not list (422), takes the listed ones, and can be switched off', async () => {
    const created = await api.raw('POST', '/v1/apps', { name: 'strict', knownEventTypesOnly: true });
    expect(created.status).toBe(201);
    const strict = (created.body as Schemas['App']).id;
    expect(created.body).toMatchObject({ knownEventTypesOnly: true });

    const unknown = await send(`never.listed.${suffix}`, {}, strict);
    expect(unknown.status).toBe(422);
    expect(details(unknown)).toEqual([
      { path: 'type', message: expect.stringMatching(/not in the event-type catalog/) },
    ]);
    expect((await send(DOCUMENTED, { amount: 'anything' }, strict)).status).toBe(202);

    const patched = await api.raw('PATCH', `/v1/apps/${strict}`, { knownEventTypesOnly: false });
    expect(patched.status).toBe(200);
    expect(patched.body).not.toHaveProperty('knownEventTypesOnly');
    expect((await send(`never.listed.${suffix}`, {}, strict)).status).toBe(202);
    // Any other app takes any type, as before.
    expect((await send(`never.listed.${suffix}`, {})).status).toBe(202);
  });

  it('keeps PATCH /v1/apps/{appId} to the admin', async () => {
    const key = await api.raw('POST', `/v1/apps/${appId}/keys`, {});
    const appKey = (key.body as { key: string }).key;
    const r = await api.raw('PATCH', `/v1/apps/${appId}`, { knownEventTypesOnly: true }, { key: appKey });
    expect(r.status).toBe(403);
  });
});
