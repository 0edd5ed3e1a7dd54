/**
 * A token bucket per caller, in memory: `capacity` calls at once, refilled at `refillPerS`.
 * It lives in one process, so on AWS each warm container of the api function keeps its own
 * buckets: a caller spread over N containers gets up to N times the rate. It bounds a runaway
 * page or script, not a determined attacker (API Gateway's stage throttle does that).
 */
export interface RateLimit {
  capacity: number;
  refillPerS: number;
  /** Buckets kept at most; the least recently used go first. */
  maxKeys?: number;
}

export function createRateLimiter(limit: RateLimit, now: () => number = Date.now) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxKeys = limit.maxKeys ?? 10_000;
  return {
    /** Takes one token; answers how many seconds to wait when there is none. */
    take(key: string): { ok: true } | { ok: false; retryAfterS: number } {
      const t = now();
      const prior = buckets.get(key);
      const tokens = prior
        ? Math.min(limit.capacity, prior.tokens + ((t - prior.at) / 1000) * limit.refillPerS)
        : limit.capacity;
      buckets.delete(key);
      if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string);
      if (tokens < 1) {
        buckets.set(key, { tokens, at: t });
        return { ok: false, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / limit.refillPerS)) };
      }
      buckets.set(key, { tokens: tokens - 1, at: t });
      return { ok: true };
    },
  };
}
