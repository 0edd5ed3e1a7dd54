/**
 * When to try again. Attempt 1 is the first try; after failed attempt n the wait is
 * `scheduleS[n-1]` seconds, jittered by ±jitter, and after the last entry the delivery is
 * exhausted. The default schedule (5 s ... 10 h, 7 waits) gives 8 attempts over about 27.6 h.
 */
export interface RetryPolicyOptions {
  scheduleS: readonly number[];
  /** Fraction of each wait added or removed at random (0.1 = ±10 %). */
  jitter: number;
  /** Source of randomness in [0, 1); injectable so tests are exact. */
  random?: () => number;
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false };

export class RetryPolicy {
  private readonly random: () => number;

  constructor(private readonly options: RetryPolicyOptions) {
    this.random = options.random ?? Math.random;
  }

  /** Attempts a delivery gets in all: one, plus one per scheduled wait. */
  get maxAttempts(): number {
    return this.options.scheduleS.length + 1;
  }

  /**
   * What to do after attempt `attempt` failed. A receiver's `Retry-After` (seconds) is honoured
   * within the schedule's bounds: never sooner than the scheduled wait, never later than the
   * schedule's longest wait. The jitter never brings a retry before the honoured Retry-After:
   * the receiver asked for at least that long.
   */
  afterFailure(attempt: number, retryAfterS?: number): RetryDecision {
    const base = this.options.scheduleS[attempt - 1];
    if (base === undefined) return { retry: false };
    const longest = Math.max(...this.options.scheduleS);
    const honouredS = retryAfterS === undefined ? 0 : Math.min(retryAfterS, longest);
    const wantedS = Math.max(base, honouredS);
    const factor = 1 + this.options.jitter * (2 * this.random() - 1);
    return { retry: true, delayMs: Math.max(0, Math.round(wantedS * 1000 * factor), honouredS * 1000) };
  }
}

/**
 * Parses a `Retry-After` header (delta-seconds or an HTTP date) into seconds from `now`;
 * undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: Date): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}
