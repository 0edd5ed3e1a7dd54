/**
 * An endpoint's flow-control state as the table keeps it (on the endpoint's record, which every
 * delivery reads anyway) and as the API shows it. Absent = normal. Written only when it changes
 * (gate.ts decides when), never per delivery.
 */
import type { RateLimit, StoredThrottle } from '../shared/model';

// The endpoint record's flow fields are declared with the record (shared/model.ts).
export type { RateLimit, StoredThrottle };

export const RATE_LIMIT_MIN = 0.1;
export const RATE_LIMIT_MAX = 1000;
/** A paused endpoint resumes at this rate, ramping up by AIMD (after a probe succeeds, or a skip). */
export const RESUME_PER_SECOND = 1;

/** The state a paused endpoint resumes in: throttled at the resume rate, newer than the pause. */
export function resumedThrottle(reason: string, since: string): StoredThrottle {
  return { state: 'throttled', perSecond: RESUME_PER_SECOND, reason, since };
}

export type ThrottleStateName = 'normal' | 'throttled' | 'paused';

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
