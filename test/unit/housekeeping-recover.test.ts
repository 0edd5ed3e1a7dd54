import { describe, expect, it } from 'vitest';
import { createHousekeeping, RUN_LIMIT } from '../../functions/delivery/housekeeping';
import { freshDelivery, lifecycle, Status } from '../../functions/delivery/lifecycle';
import type { StoredEvent } from '../../functions/shared/model';
import { fakeStores, RecordingScheduler } from '../helpers/fakes';
import { anEvent } from '../helpers/fixtures';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const iso = (offsetS: number) => new Date(NOW.getTime() + offsetS * 1000).toISOString();

function setup() {
  const stores = fakeStores();
  const scheduler = new RecordingScheduler(() => NOW.getTime());
  let clock = NOW.getTime();
  const housekeeping = createHousekeeping({
    ...stores,
    store: stores.housekeeping,
    scheduler,
    life: lifecycle({ leaseS: 300 }),
    stuckAfterRequeues: 3,
    now: () => new Date(clock),
  });
  return { stores, scheduler, housekeeping, advance: (s: number) => (clock += s * 1000) };
}

/** `n` pending deliveries on the open index, due in five minutes (their queue messages lost). */
async function openIndex(stores: ReturnType<typeof fakeStores>, n: number, dueAt = iso(300)) {
  for (let i = 0; i < n; i++) {
    const key = { appId: 'app', eventId: `evt_${String(i).padStart(5, '0')}`, endpointId: 'ep', eventAt: iso(-1) };
    await stores.deliveries.openPending(freshDelivery(key, 't'), dueAt);
  }
}

const event = (id: string, acceptedS: number, endpointIds = ['ep_1', 'ep_2']): StoredEvent =>
  anEvent({ id, timestamp: iso(acceptedS), endpointIds });

describe('housekeeping recover run', () => {
  it('re-drives every open delivery after a restart, however many more than one run takes', async () => {
    const s = setup();
    await openIndex(s.stores, RUN_LIMIT + 250);

    const report = await s.housekeeping.run({ recover: true });

    expect(report.requeued).toBe(RUN_LIMIT + 250);
    expect(new Set(s.scheduler.sent.map((m) => m.message.eventId)).size).toBe(RUN_LIMIT + 250);
  });

  it('still bounds a scheduled run to RUN_LIMIT items, leaving the rest to the next one', async () => {
    const s = setup();
    await openIndex(s.stores, RUN_LIMIT + 250, iso(-1));

    const report = await s.housekeeping.run();

    expect(report.examined).toBe(RUN_LIMIT);
    expect(s.scheduler.sent).toHaveLength(RUN_LIMIT);
  });
});

describe('housekeeping reconciling first attempts', () => {
  it('re-sends, once, a first attempt that has no outcome a lease after its event was accepted', async () => {
    const s = setup();
    s.stores.apps.putApp({ id: 'app', name: 'a', createdAt: iso(-900) });
    s.stores.events.put(event('late', -301));
    s.stores.events.put(event('young', -10));
    // ep_1 of the late event has its outcome; ep_2's message was lost.
    await s.stores.deliveries.finish(
      { appId: 'app', eventId: 'late', endpointId: 'ep_1', eventAt: iso(-301) },
      { unleased: { attempt: 1, now: iso(-300) } },
      {
        status: Status.succeeded,
        eventType: 't',
        attempts: 1,
        lastStatusCode: 200,
        lastAttemptAt: iso(-300),
        nextAttemptAt: null,
        dueAt: null,
      },
    );

    const report = await s.housekeeping.run();

    expect(report.reconciled).toBe(1);
    expect(s.scheduler.sent.map((m) => m.message)).toMatchObject([
      { eventId: 'late', endpointId: 'ep_2', attempt: 1, redriven: true },
    ]);
    // It now waits on the open index like any late work; the young event waits its turn.
    expect(
      s.stores.deliveries.record({ appId: 'app', eventId: 'late', endpointId: 'ep_2', eventAt: iso(-301) }),
    ).toMatchObject({ status: Status.pending, dueAt: iso(300) });
    expect((await s.housekeeping.run()).reconciled).toBe(0);
    expect(s.scheduler.sent).toHaveLength(1);
  });

  it('reconciles every event at once when recovering, however young', async () => {
    const s = setup();
    s.stores.apps.putApp({ id: 'app', name: 'a', createdAt: iso(-900) });
    s.stores.events.put(event('young', -1, ['ep_1']));

    expect((await s.housekeeping.run({ recover: true })).reconciled).toBe(1);
    expect(s.scheduler.sent.map((m) => m.message.eventId)).toEqual(['young']);
  });
});
