/**
 * An endpoint's flow-control state as the table keeps it (on the endpoint's record, which every
 * delivery reads anyway) and as the API shows it. Absent = normal. Written only when it changes
 * (gate.ts decides when), never per delivery.
 */

/** `rateLimit` on create and PATCH: at most `perSecond` POSTs a second, or none (null). */
export interface RateLimit {
  perSecond: number;
}

export const RATE_LIMIT_MIN = 0.1;
export const RATE_LIMIT_MAX = 1000;

export type ThrottleStateName = 'normal' | 'throttled' | 'paused';

/** The stored state of an endpoint that is not normal. */
export interface StoredThrottle {
  state: 'throttled' | 'paused';
  /** Throttled: the rate hookrelay has chosen (adaptive); absent while it only isolates (slow). */
  perSecond?: number;
  /** Paused: when the next probe may go; throttled: the end of a receiver's `Retry-After`. */
  until?: string;
  /** Why, for people: `HTTP 429`, `5 failed attempts in a row (HTTP 500)`, `slow: no answer within 1000 ms`. */
  reason: string;
  /** When this state was set: between containers, the newest wins. */
  since: string;
  /** Paused: the wait between probes, doubled at each failed probe. */
  probeEveryMs?: number;
  /** Throttled because the endpoint answers slowly: its attempts take the isolation lane. */
  slow?: true;
}

/** The endpoint view's `throttle`. */
export interface ThrottleView {
  state: ThrottleStateName;
  perSecond?: number;
  until?: string;
  reason?: string;
}

/** What the API shows: the stored state, or normal (with the configured limit, if any). */
export function throttleView(t: StoredThrottle | undefined, rateLimit: RateLimit | null | undefined): ThrottleView {
  if (!t) return rateLimit ? { state: 'normal', perSecond: rateLimit.perSecond } : { state: 'normal' };
  const view: ThrottleView = { state: t.state, reason: t.reason };
  const rates = [t.perSecond, rateLimit?.perSecond].filter((r): r is number => r !== undefined);
  if (t.state === 'throttled' && rates.length > 0) view.perSecond = Math.min(...rates);
  if (t.until !== undefined) view.until = t.until;
  return view;
}

/** Whether a stored value is a StoredThrottle (the table is read back without trusting it). */
export function isStoredThrottle(x: unknown): x is StoredThrottle {
  if (typeof x !== 'object' || x === null) return false;
  const t = x as Record<string, unknown>;
  return (
    (t.state === 'throttled' || t.state === 'paused') &&
    typeof t.reason === 'string' &&
    typeof t.since === 'string' &&
    (t.perSecond === undefined || typeof t.perSecond === 'number') &&
    (t.until === undefined || typeof t.until === 'string')
  );
}

export function isRateLimit(x: unknown): x is RateLimit {
  const r = x as { perSecond?: unknown } | null;
  return typeof r === 'object' && r !== null && typeof r.perSecond === 'number' && r.perSecond > 0;
}

/** Where flow control writes an endpoint's state change (the endpoint's record). */
export interface ThrottleStore {
  /** `null`: back to normal. Never bumps the endpoint's version. */
  saveThrottle(appId: string, endpointId: string, throttle: StoredThrottle | null): Promise<void>;
}
