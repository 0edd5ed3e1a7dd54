import { describe, expect, it } from 'vitest';
import { CONTRACT_DEFAULTS } from '../../functions/config';
import { lifecycle, RETRY_RECONCILE_AFTER_S, SCHEDULER_HORIZON_S } from '../../functions/delivery/lifecycle';

const life = lifecycle({ leaseS: 300 });
const EVENT_AT = '2026-11-22T12:00:00.000Z';
const t = (s: number) => Date.parse(EVENT_AT) + s * 1000;

describe('how a retry waits', () => {
  it('puts a retry the scheduler carries soon after its event on no index: the trailing reconcile reads it back', () => {
    // Failed at 1 s, due at 6 s: due plus a lease (306 s) comes long before the reconcile (1200 s).
    expect(life.retryWait(new Date(t(1)), t(6), EVENT_AT)).toEqual({ scheduleNow: true, dueAt: null });
    // The last retry that qualifies: due plus a lease is exactly when the reconcile reads it.
    const last = RETRY_RECONCILE_AFTER_S - 300;
    expect(life.retryWait(new Date(t(last - 300)), t(last), EVENT_AT).dueAt).toBeNull();
  });

  it('keeps a short retry on the open index, a lease after it is due, when the reconcile would read it too soon', () => {
    const due = RETRY_RECONCILE_AFTER_S - 299;
    expect(life.retryWait(new Date(t(due - 300)), t(due), EVENT_AT)).toEqual({
      scheduleNow: true,
      dueAt: new Date(t(due + 300)).toISOString(),
    });
    // A retry after a resend or a redrive, long after its event: the rule is about time only.
    const day = 86_400;
    expect(life.retryWait(new Date(t(day)), t(day + 5), EVENT_AT).dueAt).toBe(new Date(t(day + 305)).toISOString());
  });

  it('leaves a wait beyond the horizon on the open index, due one horizon before the attempt, as before', () => {
    const due = 1 + 1800;
    expect(life.retryWait(new Date(t(1)), t(due), EVENT_AT)).toEqual({
      scheduleNow: false,
      dueAt: new Date(t(due - SCHEDULER_HORIZON_S)).toISOString(),
    });
  });

  it('writes no index entry for attempts 2 and 3 of the default schedule, jittered up, first attempt 9 minutes late', () => {
    const [w1, w2, w3] = CONTRACT_DEFAULTS.retryScheduleS.map((s) => s * 1.1);
    let failedAt = t(9 * 60);
    const waits = [w1!, w2!, w3!].map((w) => {
      const due = failedAt + w * 1000;
      const wait = life.retryWait(new Date(failedAt), due, EVENT_AT);
      failedAt = due;
      return wait;
    });
    expect(waits.map((w) => [w.scheduleNow, w.dueAt === null])).toEqual([
      [true, true],
      [true, true],
      [false, false],
    ]);
  });

  it('lets the trailing reconcile read events RETRY_RECONCILE_AFTER_S old', () => {
    expect(life.retriesReconciledBefore(new Date(t(RETRY_RECONCILE_AFTER_S)))).toBe(EVENT_AT);
  });
});
