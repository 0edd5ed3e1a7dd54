/** The apps-and-endpoints store against the real-protocol emulator (the rest: store-contract.int.test.ts). */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoAppStore } from '../../functions/adapters/dynamo/app-store';
import { DynamoTable } from '../../functions/adapters/dynamo/table';
import { ValidationError } from '../../functions/core/errors';
import type { Endpoint } from '../../functions/core/model';
import type { Emulators } from '../../infra/local/emulators';
import { startTestEmulators } from '../helpers/dynamodb-local';
import { dynamoClient, provision } from '../../infra/local/provision';

let emulators: Emulators;
let store: DynamoAppStore;
let db: DynamoDBDocumentClient;
let n = 0;
const unique = (p: string) => `${p}_${Date.now().toString(36)}${(n++).toString(36)}`;

beforeAll(async () => {
  emulators = await startTestEmulators();
  const { tableName } = await provision(emulators.endpoints);
  db = DynamoDBDocumentClient.from(dynamoClient(emulators.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  store = new DynamoAppStore(new DynamoTable(db, { tableName, retentionDays: 30 }), { endpointCacheMs: 60_000 });
});

afterAll(async () => {
  db?.destroy();
  await emulators?.stop();
});

function endpoint(appId: string, id: string, extra: Partial<Endpoint> = {}): Endpoint {
  return {
    id,
    appId,
    url: 'https://example.com/h',
    eventTypes: [],
    description: '',
    enabled: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    secrets: [{ key: 'whsec_abc', createdAt: '2026-01-01T00:00:00.000Z' }],
    version: 0,
    ...extra,
  };
}

describe('DynamoAppStore', () => {
  it('stores an app once and reads it back with its endpoints in one query', async () => {
    const appId = unique('app');
    await store.putApp({ id: appId, name: 'A', createdAt: '2026-01-01T00:00:00.000Z' });
    await expect(store.putApp({ id: appId, name: 'B', createdAt: 'x' })).rejects.toThrow();
    await store.putEndpoint(endpoint(appId, 'ep_1'));
    await store.putEndpoint(endpoint(appId, 'ep_2', { enabled: false, eventTypes: ['a'] }));
    const found = await store.getAppWithEndpoints(appId);
    expect(found?.app.name).toBe('A');
    expect(found?.endpoints.map((e) => [e.id, e.enabled, e.eventTypes])).toEqual([
      ['ep_1', true, []],
      ['ep_2', false, ['a']],
    ]);
    expect(await store.getAppWithEndpoints(unique('app'))).toBeNull();
  });

  it("keeps an endpoint's signature scheme, custom headers and auth as they were written", async () => {
    const appId = unique('app');
    const options: Partial<Endpoint> = {
      signature: { scheme: 'hmac-sha256', header: 'X-Hub-Signature-256', prefix: 'sha256=' },
      headers: { 'X-Tenant': 'acme', 'x-lower': 'v' },
      auth: {
        type: 'oauth2-client-credentials',
        tokenUrl: 'https://auth.example.com/token',
        clientId: 'c',
        clientSecret: 's',
        scope: 'hooks',
      },
    };
    await store.putEndpoint(endpoint(appId, 'ep_1', options));
    await store.putEndpoint(endpoint(appId, 'ep_2'));
    expect(await store.getEndpoint(appId, 'ep_1')).toEqual(endpoint(appId, 'ep_1', options));
    const plain = await store.getEndpoint(appId, 'ep_2');
    expect([plain?.signature, plain?.headers, plain?.auth]).toEqual([undefined, undefined, undefined]);
    expect((await store.endpointForDelivery(appId, 'ep_1'))?.auth).toEqual(options.auth);
  });

  it('pages through endpoints with opaque cursors and refuses a forged one', async () => {
    const appId = unique('app');
    await store.putApp({ id: appId, name: 'A', createdAt: 'x' });
    for (let i = 0; i < 5; i++) await store.putEndpoint(endpoint(appId, `ep_${i}`));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.listEndpoints(appId, 2, cursor);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['ep_0', 'ep_1', 'ep_2', 'ep_3', 'ep_4']);
    const foreign = Buffer.from(JSON.stringify({ pk: 'APP#other', sk: 'EP#x' })).toString('base64url');
    await expect(store.listEndpoints(appId, 2, foreign)).rejects.toBeInstanceOf(ValidationError);
    await expect(store.listEndpoints(appId, 2, '!!')).rejects.toBeInstanceOf(ValidationError);
  });

  it('lists every app for housekeeping', async () => {
    const appId = unique('app');
    await store.putApp({ id: appId, name: 'A', createdAt: 'x' });
    const ids: string[] = [];
    for await (const page of store.appIdPages()) ids.push(...page);
    expect(ids).toContain(appId);
  });

  it('never answers a delivery with an endpoint older than the version its event saw', async () => {
    const appId = unique('app');
    await store.putEndpoint(endpoint(appId, 'ep_1'));
    expect((await store.endpointForDelivery(appId, 'ep_1', 0))?.url).toBe('https://example.com/h');
    await store.putEndpoint(endpoint(appId, 'ep_1', { url: 'https://example.com/v1', version: 1 }));
    // Cached for a minute, but the message names version 1: read again.
    expect((await store.endpointForDelivery(appId, 'ep_1', 0))?.url).toBe('https://example.com/h');
    expect((await store.endpointForDelivery(appId, 'ep_1', 1))?.url).toBe('https://example.com/v1');
  });

  it('answers a retry with the endpoint as it is now, past a cached copy that is new enough', async () => {
    const appId = unique('app');
    await store.putEndpoint(endpoint(appId, 'ep_1', { version: 3 }));
    expect((await store.endpointForDelivery(appId, 'ep_1', 3))?.url).toBe('https://example.com/h');
    await store.putEndpoint(endpoint(appId, 'ep_1', { url: 'https://example.com/patched', version: 4 }));
    // The retry's message names the version its event saw (3): the cache would do, 'latest' does not take it.
    expect((await store.endpointForDelivery(appId, 'ep_1', 3))?.url).toBe('https://example.com/h');
    expect((await store.endpointForDelivery(appId, 'ep_1', 'latest'))?.url).toBe('https://example.com/patched');
  });
});
