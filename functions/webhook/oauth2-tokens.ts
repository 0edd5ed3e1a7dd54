/**
 * OAuth2 client-credentials tokens (RFC 6749 section 4.4) for endpoints behind a gateway that
 * wants one. The token request is a POST through the same sender, and so the same guarded agent,
 * as the webhooks: the destination guard checks the token URL at every connection too. Client
 * credentials go in HTTP Basic (`client_secret_basic`, which every server must accept).
 *
 * Tokens are cached per process (a Lambda instance) until shortly before they expire: a tenth of
 * their lifetime, at most a minute, early. Concurrent attempts share one token request. The key
 * of the cache covers every credential, so a changed client secret or scope fetches a new token.
 */
import { createHash } from 'node:crypto';
import type { SendResult } from './outcome';
import type { AccessTokens, OAuth2Auth, RequestSender } from './webhook';

export interface OAuth2TokensOptions {
  /** Sends the token request; one that keeps enough of the answer for a token (16 KB). */
  sender: RequestSender;
  userAgent: string;
  /** Tokens kept at most (least recently fetched dropped first). */
  maxEntries?: number;
  now?: () => number;
}

/** How long a token that says nothing of its lifetime (no `expires_in`) is used. */
const DEFAULT_LIFETIME_S = 300;
const MAX_EARLY_MS = 60_000;

interface Cached {
  token: string;
  /** Used until then, shortly before it expires. */
  refreshAt: number;
}

/** The `error` code of an RFC 6749 error answer, if it looks like one (a short ASCII word). */
function errorCode(body: string): string | undefined {
  try {
    const code = (JSON.parse(body) as { error?: unknown }).error;
    return typeof code === 'string' && /^[\x20-\x7e]{1,64}$/.test(code) ? code : undefined;
  } catch {
    return undefined;
  }
}

const failure = (durationMs: number, message: string): { ok: false; result: SendResult } => ({
  ok: false,
  result: { kind: 'network', durationMs, message: `OAuth2 token request: ${message}` },
});

export class OAuth2Tokens implements AccessTokens {
  private readonly cache = new Map<string, Cached>();
  private readonly inflight = new Map<
    string,
    Promise<{ ok: true; token: string } | { ok: false; result: SendResult }>
  >();
  private readonly now: () => number;

  constructor(private readonly options: OAuth2TokensOptions) {
    this.now = options.now ?? Date.now;
  }

  async token(auth: OAuth2Auth, timeoutMs: number) {
    const key = cacheKey(auth);
    const cached = this.cache.get(key);
    if (cached && cached.refreshAt > this.now()) return { ok: true as const, token: cached.token };
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.fetch(key, auth, timeoutMs).finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  invalidate(auth: OAuth2Auth, token: string): void {
    const key = cacheKey(auth);
    if (this.cache.get(key)?.token === token) this.cache.delete(key);
  }

  private async fetch(key: string, auth: OAuth2Auth, timeoutMs: number) {
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (auth.scope !== undefined) form.set('scope', auth.scope);
    if (auth.audience !== undefined) form.set('audience', auth.audience);
    // RFC 6749 2.3.1: each part form-encoded, then joined for Basic.
    const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString(
      'base64',
    );
    const fetchedAt = this.now();
    const result = await this.options.sender.send(
      {
        url: auth.tokenUrl,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${basic}`,
          'user-agent': this.options.userAgent,
        },
        body: form.toString(),
      },
      timeoutMs,
    );
    if (result.kind === 'timeout') return failure(result.durationMs, `timeout after ${result.timeoutMs} ms`);
    if (result.kind === 'forbidden_destination') return { ok: false as const, result };
    if (result.kind === 'network') return failure(result.durationMs, result.message);
    if (result.statusCode < 200 || result.statusCode > 299) {
      const code = errorCode(result.bodyExcerpt);
      return failure(result.durationMs, `HTTP ${result.statusCode}${code ? ` (${code})` : ''} from the token endpoint`);
    }
    // Never quote the body: it holds the token when it is one.
    let answer: { access_token?: unknown; token_type?: unknown; expires_in?: unknown };
    try {
      answer = JSON.parse(result.bodyExcerpt) as typeof answer;
    } catch {
      return failure(result.durationMs, 'the token endpoint answered with something other than a JSON token response');
    }
    const token = answer.access_token;
    if (typeof token !== 'string' || !/^[\x21-\x7e]{1,8192}$/.test(token))
      return failure(result.durationMs, 'the token endpoint answered without a usable access_token');
    if (typeof answer.token_type === 'string' && answer.token_type.toLowerCase() !== 'bearer')
      return failure(result.durationMs, 'the token endpoint answered a token type other than Bearer');
    const lifetimeS = Number(answer.expires_in ?? DEFAULT_LIFETIME_S);
    const lifetimeMs = Number.isFinite(lifetimeS) && lifetimeS > 0 ? lifetimeS * 1000 : DEFAULT_LIFETIME_S * 1000;
    const refreshAt = fetchedAt + lifetimeMs - Math.min(MAX_EARLY_MS, lifetimeMs / 10);
    this.remember(key, { token, refreshAt });
    return { ok: true as const, token };
  }

  private remember(key: string, entry: Cached): void {
    this.cache.delete(key);
    this.cache.set(key, entry);
    const max = this.options.maxEntries ?? 1000;
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= max) break;
      this.cache.delete(oldest);
    }
  }
}

/** One cache entry per set of credentials (hashed into a short key). */
function cacheKey(auth: OAuth2Auth): string {
  return createHash('sha256')
    .update(
      JSON.stringify([auth.tokenUrl, auth.clientId, auth.clientSecret, auth.scope ?? null, auth.audience ?? null]),
    )
    .digest('base64url');
}
