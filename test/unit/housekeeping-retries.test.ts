/**
 * Housekeeping's trailing reconcile: a retry the scheduler carries soon after its event has no
 * open-index entry, and is read back once its event is RETRY_RECONCILE_AFTER_S old. One still
 * waiting then lost its message (or its worker is very late): it goes on the open index and is
 * sent again, once.
 */
import { describe, expect, it } from 'vitest';
import type { DeliveryUpdate } from '../../functions/delivery/deliver';
import { createHousekeeping, type HousekeepingStore } from '../../functions/delivery/housekeeping';
import { lifecycle, RETRY_RECONCILE_AFTER_S, Status, type DeliveryKey } from '../../functions/delivery/lifecycle';
import { fakeStores, RecordingScheduler } from '../helpers/fakes';
import { anEvent } from '../helpers/fixtures';

const NOW = Date.parse('2026-11-22T12:00:00.000Z');
const LEASE_S = 300;

function setup() {
  const stores = fakeStores();
  let clock = NOW;
  const scheduler = new RecordingScheduler(() => clock);
  const housekeeper = (store: HousekeepingStore = stores.housekeeping) =>
    createHousekeeping({
      ...stores,
      store,
      scheduler,
      life: lifecycle({ leaseS: LEASE_S }),
      stuckAfterRequeues: 3,
      now: () => new Date(clock),
    });
  stores.apps.putApp({ id: 'app', name: 'a', createdAt: new Date(NOW - 3_600_000).toISOString() });
  /** ISO time `s` seconds from the test's start. */
  const iso = (s: number) => new Date(NOW + s * 1000).toISOString();
  return {
    stores,
    scheduler,
    housekeeper,
    housekeeping: housekeeper(),
    iso,
    advance: (s: number) => (clock += s * 1000),
    nowIso: () => new Date(clock).toISOString(),
    /** An event accepted at `acceptedS`, to ep_1. */
    event(id: string, acceptedS: number): DeliveryKey {
      stores.events.put(anEvent({ id, timestamp: iso(acceptedS) }));
      return { appId: 'app', eventId: id, endpointId: 'ep_1', eventAt: iso(acceptedS) };
    },
    /** The worker's outcome of attempt `attempt`, a retry due at `nextS` with no index entry. */
    async failed(key: DeliveryKey, attempt: number, atS: number, nextS: number, dueAt: string | null = null) {
      const update: DeliveryUpdate = {
        status: Status.retrying,
        eventType: 't',
        attempts: attempt,
        lastStatusCode: 500,
        lastAttemptAt: iso(atS),
        nextAttemptAt: iso(nextS),
        dueAt,
      };
      expect(await stores.deliveries.finish(key, { unleased: { attempt, now: iso(atS) } }, update)).toBe(true);
    },
  };
}

describe('housekeeping reconciling waiting retries', () => {
  it('re-sends a short retry whose message was lost only once its event is RETRY_RECONCILE_AFTER_S old, and once', async () => {
    const s = setup();
    const key = s.event('evt_1', 0);
    await s.failed(key, 1, 1, 6);

    s.advance(RETRY_RECONCILE_AFTER_S - 1);
    const early = await s.housekeeping.run();
    expect([early.reconciledRetries, early.requeued, s.scheduler.sent.length]).toEqual([0, 0, 0]);
    expect(s.stores.deliveries.record(key)?.dueAt).toBeUndefined();

    s.advance(2);
    const report = await s.housekeeping.run();
    expect([report.reconciledRetries, report.requeued]).toEqual([1, 1]);
    expect(s.scheduler.sent).toMatchObject([
      { message: { eventId: 'evt_1', endpointId: 'ep_1', attempt: 2, redriven: true }, delayS: 0 },
    ]);
    // Now on the open index like any re-driven work: due a lease from now.
    expect(s.stores.deliveries.record(key)).toMatchObject({
      status: Status.retrying,
      attempts: 1,
      dueAt: new Date(NOW + (RETRY_RECONCILE_AFTER_S + 1 + LEASE_S) * 1000).toISOString(),
      requeues: 1,
    });
    expect((await s.housekeeping.run()).reconciledRetries).toBe(0);
    expect(s.scheduler.sent).toHaveLength(1);
  });

  it('sends it once when two runs race', async () => {
    const s = setup();
    const keys = await Promise.all(
      ['evt_1', 'evt_2', 'evt_3'].map(async (id, i) => {
        const key = s.event(id, i);
        await s.failed(key, 1, i + 1, i + 6);
        return key;
      }),
    );
    s.advance(RETRY_RECONCILE_AFTER_S + 60);
    const reports = await Promise.all([s.housekeeping.run(), s.housekeeper().run()]);
    expect(reports[0]!.reconciledRetries + reports[1]!.reconciledRetries).toBe(3);
    expect(s.scheduler.sent.map((m) => m.message.eventId).sort()).toEqual(['evt_1', 'evt_2', 'evt_3']);
    for (const key of keys) expect(s.stores.deliveries.record(key)?.requeues).toBe(1);
  });

  it('leaves alone a retry that finished, waits on the open index, or moved on after it was read', async () => {
    const s = setup();
    const finished = s.event('evt_done', 0);
    await s.failed(finished, 1, 1, 6);
    await s.stores.deliveries.finish(
      finished,
      { unleased: { attempt: 2, now: s.iso(6) } },
      {
        status: Status.succeeded,
        eventType: 't',
        attempts: 2,
        lastStatusCode: 200,
        lastAttemptAt: s.iso(6),
        nextAttemptAt: null,
        dueAt: null,
      },
    );
    const longWait = s.event('evt_long', 1);
    await s.failed(longWait, 1, 2, 7);
    await s.failed(longWait, 2, 7, 310);
    await s.failed(longWait, 3, 310, 7510, s.iso(7510 - 900));
    const movesOn = s.event('evt_moves', 2);
    await s.failed(movesOn, 1, 3, 8);

    // The read is eventually consistent: the worker's outcome lands between it and the write.
    const read = s.stores.housekeeping.waitingRetriesBetween.bind(s.stores.housekeeping);
    let landed = false;
    const racing: HousekeepingStore = s.stores.housekeeping;
    racing.waitingRetriesBetween = async (...args) => {
      const found = await read(...args);
      if (!landed) {
        landed = true;
        await s.failed(movesOn, 2, 8, 308);
      }
      return found;
    };
    s.advance(RETRY_RECONCILE_AFTER_S + 60);
    const report = await s.housekeeper(racing).run();

    expect(report.reconciledRetries).toBe(0);
    expect(s.scheduler.sent).toEqual([]);
    expect(s.stores.deliveries.record(finished)).toMatchObject({ status: Status.succeeded });
    expect(s.stores.deliveries.record(longWait)).toMatchObject({ attempts: 3, dueAt: s.iso(7510 - 900) });
    expect(s.stores.deliveries.record(movesOn)).toMatchObject({ attempts: 2 });
    expect(s.stores.deliveries.record(movesOn)?.dueAt).toBeUndefined();
  });

  it('leaves one a worker holds to the open index, where its lease put it, due when the lease has run out', async () => {
    const s = setup();
    const key = s.event('evt_1', 0);
    await s.failed(key, 1, 1, 6);
    s.advance(RETRY_RECONCILE_AFTER_S + 60);
    const leaseUntil = new Date(NOW + (RETRY_RECONCILE_AFTER_S + 120) * 1000).toISOString();
    expect(await s.stores.deliveries.claim(key, 2, { token: 'w', until: leaseUntil }, s.nowIso())).toBe(true);
    expect(s.stores.deliveries.record(key)!.dueAt).toBe(leaseUntil);

    const report = await s.housekeeping.run();

    expect([report.reconciledRetries, report.skippedInFlight, report.requeued]).toEqual([0, 0, 0]);
    expect(s.scheduler.sent).toEqual([]);
    // Should that worker die, step 1 re-drives it once it is due.
    s.advance(LEASE_S + 1);
    expect((await s.housekeeping.run()).requeued).toBe(1);
    expect(s.scheduler.sent).toMatchObject([{ message: { eventId: 'evt_1', attempt: 2, redriven: true } }]);
  });

  it('finds them at once when recovering: an overdue one sent now, a future one for its own time', async () => {
    const s = setup();
    const overdue = s.event('evt_overdue', 0);
    await s.failed(overdue, 1, 1, 6);
    const future = s.event('evt_future', 5);
    await s.failed(future, 1, 6, 12);
    await s.failed(future, 2, 12, 312);
    s.advance(20);

    const report = await s.housekeeping.run({ recover: true });

    expect([report.reconciledRetries, report.requeued, report.scheduled]).toEqual([2, 1, 1]);
    expect(s.scheduler.sent).toMatchObject([
      { message: { eventId: 'evt_future', attempt: 3, redriven: true, notBefore: NOW + 312_000 }, delayS: 292 },
      { message: { eventId: 'evt_overdue', attempt: 2, redriven: true }, delayS: 0 },
    ]);
    expect(s.stores.deliveries.record(future)).toMatchObject({ dueAt: s.iso(312 + LEASE_S) });
    expect(s.stores.deliveries.record(future)?.requeues).toBeUndefined();
  });

  it('still reads back, later, a young event’s retry written after a recover run', async () => {
    const s = setup();
    const key = s.event('evt_1', 0);
    s.advance(10);
    // Recovering while the first attempt is in flight: nothing to find yet (step 2 re-sends it).
    await s.housekeeping.run({ recover: true });
    s.scheduler.sent.length = 0;
    // Its outcome, a short retry, then lands, and the retry's message is lost.
    await s.stores.deliveries.finish(
      key,
      { unleased: { attempt: 1, now: s.iso(11) } },
      {
        status: Status.retrying,
        eventType: 't',
        attempts: 1,
        lastStatusCode: 500,
        lastAttemptAt: s.iso(11),
        nextAttemptAt: s.iso(16),
        dueAt: null,
      },
    );

    s.advance(RETRY_RECONCILE_AFTER_S);
    const report = await s.housekeeping.run();

    expect(report.reconciledRetries).toBe(1);
    expect(s.scheduler.sent).toMatchObject([{ message: { eventId: 'evt_1', attempt: 2, redriven: true } }]);
  });
});
