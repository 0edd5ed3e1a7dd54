import { describe, expect, it } from 'vitest';
import { checkSchemaAndExamples } from '../../functions/catalog/json-schema';
import {
  createPortalAccessService,
  type PortalStore,
  type PortalTokenRecord,
} from '../../functions/access/portal-access';
import { createRateLimiter } from '../../functions/access/rate-limit';

function memoryStore(): PortalStore & { tokens: Map<string, PortalTokenRecord> } {
  const tokens = new Map<string, PortalTokenRecord>();
  const generations = new Map<string, number>();
  return {
    tokens,
    putPortalToken: async (r) => void tokens.set(r.hash, r),
    findPortalToken: async (hash) => tokens.get(hash) ?? null,
    portalGeneration: async (appId) => generations.get(appId) ?? 0,
    bumpPortalGeneration: async (appId) => {
      generations.set(appId, (generations.get(appId) ?? 0) + 1);
      return generations.get(appId)!;
    },
  };
}

describe('portal links', () => {
  const admin = { kind: 'admin' } as const;
  let clock = Date.parse('2026-12-01T10:00:00Z');
  const service = (store = memoryStore()) => ({
    store,
    portal: createPortalAccessService({ store, requireApp: async () => ({}), now: () => new Date(clock) }),
  });

  it('work until they expire, then say so plainly', async () => {
    const { portal, store } = service();
    const link = await portal.mint(admin, 'app_1', { ttlSeconds: 3600 }, 'https://hooks.example.com/');
    expect(link.url).toBe(`https://hooks.example.com/portal#token=${link.token}`);
    expect([...store.tokens.values()][0]!.hash).not.toContain(link.token.slice(4));
    await expect(portal.authenticate(link.token)).resolves.toMatchObject({ kind: 'portal', appId: 'app_1' });
    clock += 3600 * 1000;
    await expect(portal.authenticate(link.token)).rejects.toMatchObject({ code: 'unauthorized', message: /expired/ });
  });

  it('end together when the app’s generation moves on', async () => {
    const { portal } = service();
    const a = await portal.mint(admin, 'app_1', { capabilities: ['read', 'manage'] }, 'http://x');
    const other = await portal.mint(admin, 'app_2', {}, 'http://x');
    await portal.endAll(admin, 'app_1');
    await expect(portal.authenticate(a.token)).rejects.toMatchObject({ code: 'unauthorized', message: /ended/ });
    await expect(portal.authenticate(other.token)).resolves.toMatchObject({ appId: 'app_2', capabilities: ['read'] });
    const b = await portal.mint(admin, 'app_1', {}, 'http://x');
    await expect(portal.authenticate(b.token)).resolves.toMatchObject({ appId: 'app_1' });
  });

  it('are never minted or ended by a portal link', async () => {
    const { portal } = service();
    const who = {
      kind: 'portal',
      appId: 'app_1',
      capabilities: ['read', 'manage'],
      expiresAt: '',
      session: 'h',
    } as const;
    await expect(portal.mint(who, 'app_1', {}, 'http://x')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(portal.endAll(who, 'app_1')).rejects.toMatchObject({ code: 'forbidden' });
  });
});

describe('the token bucket', () => {
  it('allows the burst, then one call per refill, per key', () => {
    let t = 0;
    const limiter = createRateLimiter({ capacity: 3, refillPerS: 2 }, () => t);
    expect([1, 2, 3, 4].map(() => limiter.take('a').ok)).toEqual([true, true, true, false]);
    expect(limiter.take('b').ok).toBe(true);
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterS: 1 });
    t += 500;
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
  });

  it('keeps at most maxKeys buckets, dropping the least recently used', () => {
    const limiter = createRateLimiter({ capacity: 1, refillPerS: 0.001, maxKeys: 2 }, () => 0);
    limiter.take('a');
    limiter.take('b');
    limiter.take('c'); // evicts a
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('c').ok).toBe(false);
  });
});

describe('JSON Schema checks', () => {
  it('accept a valid 2020-12 or draft-07 schema with valid examples', () => {
    expect(checkSchemaAndExamples({ type: 'object', required: ['a'] }, [{ a: 1 }])).toEqual([]);
    expect(
      checkSchemaAndExamples({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' }, [{}]),
    ).toEqual([]);
  });

  it('name what is wrong: the schema, an unresolvable $ref, an unknown draft, a failing example', () => {
    expect(checkSchemaAndExamples({ type: 12 }, [])[0]!.path).toMatch(/^schema/);
    expect(checkSchemaAndExamples({ $ref: '#/$defs/missing' }, [])[0]).toMatchObject({
      path: 'schema',
      message: expect.stringMatching(/does not compile/),
    });
    expect(checkSchemaAndExamples({ $schema: 'https://example.com/s' }, [])[0]!.path).toBe('schema.$schema');
    const problems = checkSchemaAndExamples({ type: 'object', properties: { n: { type: 'number' } } }, [
      { n: 1 },
      { n: 'x' },
    ]);
    expect(problems).toEqual([{ path: 'examples.1.n', message: 'must be number' }]);
  });
});
