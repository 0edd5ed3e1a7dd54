import { describe, expect, it } from 'vitest';
import { RetryPolicy, parseRetryAfter } from '../../functions/delivery/retry-policy';
import { topology } from '../../infra/topology';

describe('retry policy', () => {
  const exact = (scheduleS: number[]) => new RetryPolicy({ scheduleS, jitter: 0.1, random: () => 0.5 });

  it('gives the default schedule eight attempts over about 27.6 hours', () => {
    const policy = exact([...topology.defaultRetryScheduleS]);
    expect(policy.maxAttempts).toBe(8);
    let total = 0;
    for (let attempt = 1; attempt <= 7; attempt++) {
      const d = policy.afterFailure(attempt);
      if (!d.retry) throw new Error(`attempt ${attempt} should be retried`);
      total += d.delayMs;
    }
    expect(policy.afterFailure(8)).toEqual({ retry: false });
    expect(total / 3_600_000).toBeCloseTo(27.6, 1);
  });

  it('waits the scheduled delay after each failure', () => {
    const policy = exact([5, 300, 1800]);
    expect(policy.afterFailure(1)).toEqual({ retry: true, delayMs: 5000 });
    expect(policy.afterFailure(2)).toEqual({ retry: true, delayMs: 300_000 });
    expect(policy.afterFailure(3)).toEqual({ retry: true, delayMs: 1_800_000 });
    expect(policy.afterFailure(4)).toEqual({ retry: false });
  });

  it('jitters each delay within plus or minus ten percent', () => {
    const low = new RetryPolicy({ scheduleS: [100], jitter: 0.1, random: () => 0 });
    const high = new RetryPolicy({ scheduleS: [100], jitter: 0.1, random: () => 0.999999 });
    expect(low.afterFailure(1)).toEqual({ retry: true, delayMs: 90_000 });
    const h = high.afterFailure(1);
    expect(h.retry && h.delayMs).toBeGreaterThan(109_000);
    expect(h.retry && h.delayMs).toBeLessThanOrEqual(110_000);
  });

  it('honours Retry-After within the schedule: never sooner, never past its longest wait', () => {
    const policy = exact([5, 300, 1800]);
    expect(policy.afterFailure(1, 60)).toEqual({ retry: true, delayMs: 60_000 });
    expect(policy.afterFailure(1, 1)).toEqual({ retry: true, delayMs: 5000 });
    expect(policy.afterFailure(1, 86_400)).toEqual({ retry: true, delayMs: 1_800_000 });
  });

  it('never retries sooner than a Retry-After it honours, however the jitter falls', () => {
    const low = new RetryPolicy({ scheduleS: [5, 300, 1800], jitter: 0.1, random: () => 0 });
    expect(low.afterFailure(1, 60)).toEqual({ retry: true, delayMs: 60_000 });
    expect(low.afterFailure(1, 86_400)).toEqual({ retry: true, delayMs: 1_800_000 });
    // Without Retry-After (or one shorter than the schedule) the jitter still spreads retries.
    expect(low.afterFailure(1)).toEqual({ retry: true, delayMs: 4500 });
    expect(low.afterFailure(1, 1)).toEqual({ retry: true, delayMs: 4500 });
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = new Date('2026-11-22T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120);
    expect(parseRetryAfter('Sun, 22 Nov 2026 12:01:00 GMT', now)).toBe(60);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
