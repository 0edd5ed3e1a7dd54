/**
 * Portal links: an app's owner (the admin or the app's key) mints a link to the portal for one
 * app, read-only or read-and-manage, valid for an hour to a week. The token in it is opaque,
 * shown once and stored only as a SHA-256 hash (like app keys); it rides in the URL's fragment,
 * which browsers never send, so it reaches no server log. Ending an app's portal access bumps a
 * generation counter of the app: every token minted before it stops working at once.
 */
import { randomBytes } from 'node:crypto';
import { ForbiddenError, UnauthorizedError } from '../shared/errors';
import { hashKey, type Principal } from './keys';
import { LIMITS, parseOrThrow, portalAccessSchema } from '../api/schemas';

export type Capability = 'read' | 'manage';

export interface PortalTokenRecord {
  hash: string;
  appId: string;
  capabilities: Capability[];
  createdAt: string;
  expiresAt: string;
  /** The app's portal generation when it was minted; an older one than the app's is ended. */
  generation: number;
}

export interface PortalStore {
  putPortalToken(record: PortalTokenRecord): Promise<void>;
  findPortalToken(hash: string): Promise<PortalTokenRecord | null>;
  portalGeneration(appId: string): Promise<number>;
  /** Ends every token of the app minted so far; answers the new generation. */
  bumpPortalGeneration(appId: string): Promise<number>;
}

export const PORTAL_TOKEN_PREFIX = 'hrp_';

export interface PortalDeps {
  store: PortalStore;
  requireApp: (appId: string) => Promise<unknown>;
  now?: () => Date;
}

/** Admins and the app's own keys manage portal links; a portal link never mints another. */
function requireOwner(who: Principal): void {
  if (who.kind === 'portal') throw new ForbiddenError('a portal link cannot mint or end portal links');
}

export function createPortalAccessService(deps: PortalDeps) {
  const now = deps.now ?? (() => new Date());

  return {
    /** `portalBase` is the origin the portal is served from, e.g. https://api.example.com. */
    async mint(who: Principal, appId: string, body: unknown, portalBase: string) {
      requireOwner(who);
      const input = parseOrThrow(portalAccessSchema, body ?? {});
      await deps.requireApp(appId);
      const capabilities: Capability[] = input.capabilities?.includes('manage') ? ['read', 'manage'] : ['read'];
      const at = now();
      const expiresAt = new Date(at.getTime() + (input.ttlSeconds ?? LIMITS.portalTtlDefaultS) * 1000).toISOString();
      const token = `${PORTAL_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      await deps.store.putPortalToken({
        hash: hashKey(token),
        appId,
        capabilities,
        createdAt: at.toISOString(),
        expiresAt,
        generation: await deps.store.portalGeneration(appId),
      });
      return { url: `${portalBase.replace(/\/$/, '')}/portal#token=${token}`, token, expiresAt, capabilities };
    },

    async endAll(who: Principal, appId: string): Promise<void> {
      requireOwner(who);
      await deps.requireApp(appId);
      await deps.store.bumpPortalGeneration(appId);
    },

    /** The principal of a portal token, or a 401 that says plainly why the link no longer works. */
    async authenticate(token: string): Promise<Principal> {
      const record = await deps.store.findPortalToken(hashKey(token));
      if (!record) throw new UnauthorizedError('invalid portal link');
      if (Date.parse(record.expiresAt) <= now().getTime()) {
        throw new UnauthorizedError(`this portal link expired at ${record.expiresAt}; ask for a new one`);
      }
      if (record.generation < (await deps.store.portalGeneration(record.appId))) {
        throw new UnauthorizedError('this portal link was ended by the app’s owner; ask for a new one');
      }
      return {
        kind: 'portal',
        appId: record.appId,
        capabilities: record.capabilities,
        expiresAt: record.expiresAt,
        session: record.hash,
      };
    },
  };
}

/**
 * What a portal link may do on a route: `read` routes with any link, `manage` routes with a
 * manage link only, and nothing else (keys, sending events) at all.
 */
export function requirePortalCapability(who: Principal, needed: Capability | undefined, route: string): void {
  if (who.kind !== 'portal') return;
  if (needed === undefined) throw new ForbiddenError(`a portal link cannot use ${route}`);
  if (!who.capabilities.includes(needed)) throw new ForbiddenError('this portal link is read-only');
}

export type PortalAccessService = ReturnType<typeof createPortalAccessService>;
