/**
 * Catalog validation at intake (functions/catalog/catalog-check.ts): opt-in per type and per
 * app, one catalog read per container and TTL, each schema compiled once per version, and the
 * bus path dead-letters a refused event with the reason.
 */
import { describe, expect, it } from 'vitest';
import { createCatalogCheck } from '../../functions/catalog/catalog-check';
import type { EventType } from '../../functions/catalog/event-types';
import { createBusIntake, type DeadLetteredEvent } from '../../functions/intake/bus-intake';
import { createIngestService } from '../../functions/intake/ingest';
import { UnprocessableError } from '../../functions/shared/errors';
import type { App } from '../../functions/shared/model';
import { anEndpoint } from '../helpers/fixtures';

const AMOUNT_SCHEMA = {
  type: 'object',
  required: ['amount'],
  properties: { amount: { type: 'integer' }, currency: { type: 'string', maxLength: 3 } },
};

function type(name: string, over: Partial<EventType> = {}): EventType {
  return {
    name,
    description: '',
    schema: AMOUNT_SCHEMA,
    examples: [],
    deprecated: false,
    validate: false,
    createdAt: '2026-12-01T00:00:00.000Z',
    updatedAt: '2026-12-01T00:00:00.000Z',
    ...over,
  };
}

function catalog(types: EventType[]) {
  const state = { types, reads: 0, clock: 0 };
  const check = createCatalogCheck({
    listAll: async () => {
      state.reads++;
      return state.types;
    },
    ttlMs: 10_000,
    now: () => state.clock,
  });
  return { check, state };
}

const app: App = { id: 'app_1', name: 'A', createdAt: '2026-01-01T00:00:00.000Z' };
const refusal = (p: Promise<unknown>) => p.then(() => undefined).catch((e: unknown) => e as UnprocessableError);

describe('catalog validation', () => {
  it('refuses data that breaks the schema of a validating type, naming each failing path', async () => {
    const { check } = catalog([type('invoice.paid', { validate: true })]);
    const err = await refusal(check.check(app, 'invoice.paid', { amount: 'lots', currency: 'EURO' }));
    expect(err).toBeInstanceOf(UnprocessableError);
    expect(err?.code).toBe('unprocessable');
    expect(err?.details).toEqual([
      { path: 'data.amount', message: 'must be integer' },
      { path: 'data.currency', message: 'must NOT have more than 3 characters' },
    ]);
    expect((await refusal(check.check(app, 'invoice.paid', {})))?.details).toEqual([
      { path: 'data', message: "must have required property 'amount'" },
    ]);
    await expect(check.check(app, 'invoice.paid', { amount: 3 })).resolves.toBeUndefined();
  });

  it('takes anything of a type whose schema is documentation only, and unknown types, by default', async () => {
    const { check } = catalog([type('invoice.paid')]);
    await expect(check.check(app, 'invoice.paid', { amount: 'lots' })).resolves.toBeUndefined();
    await expect(check.check(app, 'never.heard.of', {})).resolves.toBeUndefined();
  });

  it('refuses a type the catalog does not list for an app that takes known types only', async () => {
    const { check } = catalog([type('invoice.paid')]);
    const strict = { ...app, knownEventTypesOnly: true };
    const err = await refusal(check.check(strict, 'invoice.voided', {}));
    expect(err).toBeInstanceOf(UnprocessableError);
    expect(err?.details).toEqual([{ path: 'type', message: expect.stringMatching(/not in the event-type catalog/) }]);
    await expect(check.check(strict, 'invoice.paid', {})).resolves.toBeUndefined();
  });

  it('reads the catalog once per TTL, however many events, and again after a change here', async () => {
    const { check, state } = catalog([type('invoice.paid')]);
    for (let i = 0; i < 1000; i++) await check.check(app, 'invoice.paid', { amount: 'x' });
    expect(state.reads).toBe(1);

    // Another container turns validation on: seen once the TTL has passed.
    state.types = [type('invoice.paid', { validate: true, updatedAt: '2026-12-01T00:00:01.000Z' })];
    state.clock += 9_999;
    await expect(check.check(app, 'invoice.paid', { amount: 'x' })).resolves.toBeUndefined();
    state.clock += 1;
    expect(await refusal(check.check(app, 'invoice.paid', { amount: 'x' }))).toBeInstanceOf(UnprocessableError);
    expect(state.reads).toBe(2);

    // A change through this container's catalog service applies at once.
    state.types = [type('invoice.paid', { validate: false, updatedAt: '2026-12-01T00:00:02.000Z' })];
    check.invalidate();
    await expect(check.check(app, 'invoice.paid', { amount: 'x' })).resolves.toBeUndefined();
    expect(state.reads).toBe(3);
  });

  it('shares one read between concurrent events', async () => {
    const { check, state } = catalog([]);
    await Promise.all(Array.from({ length: 50 }, () => check.check(app, 't', {})));
    expect(state.reads).toBe(1);
  });

  it('uses a new schema as soon as the type says so (its version)', async () => {
    const { check, state } = catalog([type('t', { validate: true })]);
    await expect(check.check(app, 't', { amount: 1 })).resolves.toBeUndefined();
    state.types = [
      type('t', {
        validate: true,
        schema: { type: 'object', required: ['id'] },
        updatedAt: '2026-12-02T00:00:00.000Z',
      }),
    ];
    check.invalidate();
    expect((await refusal(check.check(app, 't', { amount: 1 })))?.details).toEqual([
      { path: 'data', message: "must have required property 'id'" },
    ]);
  });
});

describe('catalog validation on the intake paths', () => {
  const ingest = createIngestService({
    apps: { getAppWithEndpoints: async () => ({ app, endpoints: [anEndpoint()] }) },
    events: { putEventIfAbsent: async () => ({ created: true }) },
    deliveries: { putSkippedDeliveries: async () => {} },
    catalog: catalog([type('invoice.paid', { validate: true })]).check,
    scheduler: { now: async () => {} },
  });

  it('refuses a POST with 422 and each item of a batch on its own', async () => {
    const err = await refusal(ingest.ingest({ appId: 'app_1', body: { type: 'invoice.paid', data: { amount: 'x' } } }));
    expect(err).toBeInstanceOf(UnprocessableError);
    const batch = await ingest.ingestBatch('app_1', {
      events: [
        { type: 'invoice.paid', data: { amount: 1 } },
        { type: 'invoice.paid', data: { amount: 'x' } },
      ],
    });
    expect(batch.items[0]).toMatchObject({ deliveries: 1 });
    expect(batch.items[1]).toEqual({
      error: {
        code: 'unprocessable',
        message: 'data does not match the schema of event type invoice.paid',
        details: [{ path: 'events.1.data.amount', message: 'must be integer' }],
      },
    });
  });

  it('sends a bus event that fails validation to the ingest DLQ with the reason, at once', async () => {
    const dead: DeadLetteredEvent[] = [];
    const intake = createBusIntake({
      ingest: (req) => ingest.ingest(req),
      deadLetters: { send: async (m) => void dead.push(m) },
      retry: { firstDelayS: 30, maxDelayS: 3600, attempts: 30 },
    });
    const body = JSON.stringify({
      id: '6f1c2d3e-0000-4000-8000-000000000009',
      'detail-type': 'invoice.paid',
      source: 'com.example.billing',
      detail: { appId: 'app_1', data: { amount: 'lots' } },
    });
    const out = await intake.handle({ body, receives: 1 });
    expect(out.outcome).toBe('dead-lettered');
    expect(dead).toEqual([
      expect.objectContaining({
        code: 'unprocessable',
        reason: expect.stringMatching(/data\.amount: must be integer/),
      }),
    ]);
  });
});
