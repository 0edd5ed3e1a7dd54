/**
 * Key comparison: the admin key is compared in constant time over SHA-256 digests, so neither
 * the position of the first wrong character nor the key's length shows in the timing; app keys
 * are never compared at all (they are looked up by their hash).
 */
import * as crypto from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';

vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual) };
});

const { bearerToken, secretsEqual } = await import('../../functions/access/auth');
const { createKeyService, hashKey } = await import('../../functions/access/keys');
const { STATUS } = await import('../../functions/handlers/http/errors');

/** A refused key: the domain's code, which the HTTP edge answers with 401. */
const UNAUTHORIZED = { code: 'unauthorized' } as const;
it('answers a refused key with 401 at the edge', () => expect(STATUS[UNAUTHORIZED.code]).toBe(401));
const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);

afterEach(() => {
  timingSafeEqual.mockClear();
});

describe('secretsEqual', () => {
  it('says equal for equal strings and unequal for any difference, including length', () => {
    const key = 'hr_admin_K1ciLidI0eAFGIZU8gY8_LLQnOpwKFK6';
    expect(secretsEqual(key, `${key}`)).toBe(true);
    for (const other of [`${key}x`, key.slice(0, -1), `X${key.slice(1)}`, '', key.toUpperCase()]) {
      expect(secretsEqual(other, key), other).toBe(false);
    }
  });

  it('decides with timingSafeEqual over two 32-byte digests, whatever the lengths given', () => {
    for (const [a, b] of [
      ['short', 'a much longer candidate key'],
      ['', 'x'.repeat(10_000)],
      ['same', 'same'],
    ] as const) {
      timingSafeEqual.mockClear();
      secretsEqual(a, b);
      expect(timingSafeEqual).toHaveBeenCalledTimes(1);
      const [da, db] = timingSafeEqual.mock.calls[0]! as [Buffer, Buffer];
      expect([da.length, db.length]).toEqual([32, 32]);
      expect(da.equals(crypto.createHash('sha256').update(a).digest())).toBe(true);
    }
  });
});

describe('authenticating a key', () => {
  const deps = (admin: string | undefined) => {
    const lookups: string[] = [];
    const service = createKeyService({
      store: {
        putKey: async () => {},
        deleteKey: async () => false,
        findKeyByHash: async (hash) => {
          lookups.push(hash);
          return hash === hashKey('hrk_good') ? { id: 'key_1', appId: 'app_1', name: '', hash, createdAt: '' } : null;
        },
      },
      adminKey: async () => admin,
      requireApp: async () => ({}),
    });
    return { service, lookups };
  };

  it('compares the admin key through secretsEqual, never with ===', async () => {
    const { service } = deps('the-admin-key');
    await expect(service.authenticate('Bearer the-admin-key')).resolves.toEqual({ kind: 'admin' });
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    await expect(service.authenticate('Bearer the-admin-kez')).rejects.toMatchObject(UNAUTHORIZED);
  });

  it('finds an app key by its SHA-256 hash: the key itself is neither compared nor stored', async () => {
    const { service, lookups } = deps('the-admin-key');
    await expect(service.authenticate('Bearer hrk_good')).resolves.toEqual({
      kind: 'app',
      appId: 'app_1',
      keyId: 'key_1',
    });
    expect(lookups).toEqual([hashKey('hrk_good')]);
    expect(lookups[0]).not.toContain('hrk_good');
    await expect(service.authenticate('Bearer hrk_bad')).rejects.toMatchObject({
      ...UNAUTHORIZED,
      message: 'invalid API key',
    });
  });

  it('accepts no key at all when no admin key is configured and the token is not an app key', async () => {
    const { service } = deps(undefined);
    await expect(service.authenticate('Bearer anything')).rejects.toMatchObject(UNAUTHORIZED);
  });

  it('reads only "Bearer <key>" from the header', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc  ')).toBe('abc');
    for (const bad of [undefined, '', 'Bearer', 'Basic abc', 'Bearer a b', 'abc']) {
      expect(() => bearerToken(bad), String(bad)).toThrow(/Authorization header/);
    }
  });
});
