import { describe, expect, it } from 'vitest';
import { CONTRACT_DEFAULTS } from '../../functions/config';
import {
  deadLetterMessage,
  firstAttemptMessage,
  isDeliveryMessage,
  keyOfEventDelivery,
  keyOfMessage,
  lifecycle,
  nextAttemptMessage,
  redriveMessage,
  RETRY_RECONCILE_AFTER_S,
  SCHEDULER_HORIZON_S,
  freshDelivery,
} from '../../functions/delivery/lifecycle';
import { newId } from '../../functions/shared/ids';
import type { StoredEvent } from '../../functions/shared/model';
import { deliveriesPk, keys } from '../../functions/shared/table-layout';

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

describe("where a delivery's record is, in an app with several event shards", () => {
  const event = (id: string, shard?: number): StoredEvent => ({
    id,
    appId: 'app_1',
    type: 'a.b',
    timestamp: EVENT_AT,
    dataJson: '{}',
    requestHash: 'h',
    endpointIds: ['ep_1'],
    skippedEndpointIds: [],
    ...(shard ? { shard } : {}),
  });
  const ep = { id: 'ep_1', version: 1 };

  it("puts a chosen id's delivery in its event's shard, and every message of it says so", () => {
    const e = event('order-42', 3);
    const first = firstAttemptMessage(e, ep);
    expect(first.shard).toBe(3);
    expect(isDeliveryMessage(first)).toBe(true);
    const key = keyOfMessage(first, EVENT_AT);
    expect(key).toEqual(keyOfEventDelivery(e, 'ep_1'));
    expect(keys.delivery(key).pk).toBe(deliveriesPk('app_1', 'ep_1', 3));
    // The retry, the dead letter and a redrive of its record keep it.
    const next = nextAttemptMessage(first, { createdAt: EVENT_AT }, 2, t(5), EVENT_AT);
    expect(next.shard).toBe(3);
    expect(deadLetterMessage(next, 2, 'HTTP 500').shard).toBe(3);
    expect(redriveMessage({ ...freshDelivery(key, 'a.b'), attempts: 2 }).shard).toBe(3);
  });

  it('carries nothing when the id names the shard: generated ids, and chosen ids in shard 0', () => {
    const generated = newId('msg', t(0), 5);
    for (const e of [event(generated, 5), event('order-42'), event('evb_7d1c')]) {
      const m = firstAttemptMessage(e, ep);
      expect('shard' in m).toBe(false);
      expect(keys.delivery(keyOfMessage(m, EVENT_AT)).pk).toBe(deliveriesPk('app_1', 'ep_1', e.shard ?? 0));
    }
    // A chosen id of the generated shape whose event went elsewhere: carried, even shard 0.
    const lookalike = newId('msg', t(-1000), 2);
    expect(firstAttemptMessage(event(lookalike), ep).shard).toBe(0);
    expect(firstAttemptMessage(event(lookalike, 1), ep).shard).toBe(1);
  });

  it('reads a message from before the shard travelled as the shard its id names (0 for a chosen id)', () => {
    const old = { v: 2, appId: 'app_1', eventId: 'order-42', endpointId: 'ep_1', attempt: 1, eventAt: EVENT_AT };
    expect(isDeliveryMessage(old)).toBe(true);
    expect(keys.delivery(keyOfMessage(old as never, EVENT_AT)).pk).toBe(deliveriesPk('app_1', 'ep_1', 0));
  });

  it('refuses a message whose shard is not one an app can have', () => {
    const m = { v: 2, appId: 'app_1', eventId: 'order-42', endpointId: 'ep_1', attempt: 1 };
    for (const shard of [-1, 1.5, 32, '2']) expect(isDeliveryMessage({ ...m, shard })).toBe(false);
    expect(isDeliveryMessage({ ...m, shard: 31 })).toBe(true);
  });
});
