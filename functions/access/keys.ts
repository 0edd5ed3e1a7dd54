/**
 * Who is calling: the admin (the operator's key) or an app-scoped key, which may act on its own
 * app alone. App keys are shown once and stored only as a SHA-256 hash; they are long random
 * strings, so a fast hash is enough, and a lookup by hash leaks nothing about the key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { bearerToken, secretsEqual } from './auth';
import { ForbiddenError, NotFoundError, UnauthorizedError } from '../shared/errors';
import { newId } from '../shared/ids';
import { createKeySchema, parseOrThrow } from '../api/schemas';

export type Principal =
  | { kind: 'admin' }
  | { kind: 'app'; appId: string; keyId: string }
  /** A portal link's token: one app, its capabilities, until it expires; `session` is the token's hash. */
  | {
      kind: 'portal';
      appId: string;
      capabilities: readonly ('read' | 'manage')[];
      expiresAt: string;
      session: string;
    };

export interface ApiKeyRecord {
  id: string;
  appId: string;
  name: string;
  hash: string;
  createdAt: string;
}

export interface KeyStore {
  putKey(key: ApiKeyRecord): Promise<void>;
  findKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  /** Revokes the key at once; false when the app has no such key. */
  deleteKey(appId: string, keyId: string): Promise<boolean>;
}

export const hashKey = (key: string) => createHash('sha256').update(key).digest('base64url');

export interface KeyDeps {
  store: KeyStore;
  adminKey: () => Promise<string | undefined>;
  requireApp: (appId: string) => Promise<unknown>;
  /** Resolves a portal link's token (`hrp_...`). */
  portal?: { authenticate(token: string): Promise<Principal> };
  now?: () => Date;
}

export function createKeyService(deps: KeyDeps) {
  const now = deps.now ?? (() => new Date());

  return {
    /** Resolves the `Authorization` header to a principal, or a 401. */
    async authenticate(header: string | undefined): Promise<Principal> {
      const token = bearerToken(header);
      const admin = await deps.adminKey();
      if (admin !== undefined && secretsEqual(token, admin)) return { kind: 'admin' };
      if (token.startsWith('hrk_')) {
        const record = await deps.store.findKeyByHash(hashKey(token));
        if (record) return { kind: 'app', appId: record.appId, keyId: record.id };
      }
      if (token.startsWith('hrp_') && deps.portal) return deps.portal.authenticate(token);
      throw new UnauthorizedError('invalid API key');
    },

    async create(principal: Principal, appId: string, body: unknown) {
      authorizeApp(principal, appId);
      requireAdmin(principal, 'only the admin key can create keys');
      const input = parseOrThrow(createKeySchema, body ?? {});
      await deps.requireApp(appId);
      const key = `hrk_${randomBytes(32).toString('base64url')}`;
      const record: ApiKeyRecord = {
        id: newId('key'),
        appId,
        name: input.name ?? '',
        hash: hashKey(key),
        createdAt: now().toISOString(),
      };
      await deps.store.putKey(record);
      return { id: record.id, key, name: record.name, createdAt: record.createdAt };
    },

    async revoke(principal: Principal, appId: string, keyId: string): Promise<void> {
      authorizeApp(principal, appId);
      requireAdmin(principal, 'only the admin key can revoke keys');
      if (!(await deps.store.deleteKey(appId, keyId))) throw new NotFoundError(`key ${keyId} not found`);
    },
  };
}

/**
 * An app key (or a portal link) sees only its own app: any other app answers exactly as a missing app does (404),
 * so a key cannot even learn which app ids exist.
 */
export function authorizeApp(principal: Principal, appId: string): void {
  if (principal.kind !== 'admin' && principal.appId !== appId) throw new NotFoundError(`app ${appId} not found`);
}

export function requireAdmin(principal: Principal, message: string): void {
  if (principal.kind !== 'admin') throw new ForbiddenError(message);
}

export type KeyService = ReturnType<typeof createKeyService>;
