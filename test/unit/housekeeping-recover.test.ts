import { describe, expect, it } from 'vitest';
import {
  createHousekeeping,
  RUN_LIMIT,
  type HousekeepingStore,
  type OpenItem,
} from '../../functions/core/housekeeping';
import type { DeliveryMessage } from '../../functions/core/messages';

const NOW = new Date('2026-11-22T12:00:00.000Z');
const iso = (offsetS: number) => new Date(NOW.getTime() + offsetS * 1000).toISOString();

/** An open index of `n` pending deliveries, due in five minutes (their queue messages lost). */
function openIndex(n: number): HousekeepingStore & { items: Map<string, OpenItem> } {
  const items = new Map<string, OpenItem>();
  for (let i = 0; i < n; i++) {
    const eventId = `evt_${String(i).padStart(5, '0')}`;
    items.set(eventId, {
      dueAt: iso(300),
      delivery: {
        appId: 'app',
        eventId,
        endpointId: 'ep',
        status: 'pending',
        attempts: 0,
        createdAt: iso(-1),
        dueAt: iso(300),
      },
    });
  }
  return {
    items,
    async listDue(cutoff, limit) {
      return [...items.values()]
        .filter((i) => i.dueAt < cutoff)
        .slice(0, limit)
        .map((i) => structuredClone(i));
    },
    async rescheduleDue(item, toDueAt) {
      const cur = items.get(item.delivery.eventId);
      if (!cur || cur.dueAt !== item.dueAt) return false;
      cur.dueAt = toDueAt;
      return true;
    },
  };
}

function housekeepingOver(store: HousekeepingStore) {
  const enqueued: DeliveryMessage[] = [];
  const housekeeping = createHousekeeping({
    store,
    enqueue: async (messages) => void enqueued.push(...messages),
    schedule: async () => {},
    leaseS: 300,
    stuckAfterRequeues: 3,
    now: () => NOW,
  });
  return { housekeeping, enqueued };
}

describe('housekeeping recover run', () => {
  it('re-drives every open delivery after a restart, however many more than one run takes', async () => {
    const store = openIndex(RUN_LIMIT + 250);
    const { housekeeping, enqueued } = housekeepingOver(store);

    const report = await housekeeping.run({ recover: true });

    expect(report.requeued).toBe(RUN_LIMIT + 250);
    expect(new Set(enqueued.map((m) => m.eventId)).size).toBe(RUN_LIMIT + 250);
  });

  it('still bounds a scheduled run to RUN_LIMIT items, leaving the rest to the next one', async () => {
    const store = openIndex(RUN_LIMIT + 250);
    for (const item of store.items.values()) item.dueAt = iso(-1);
    const { housekeeping, enqueued } = housekeepingOver(store);

    const report = await housekeeping.run();

    expect(report.examined).toBe(RUN_LIMIT);
    expect(enqueued).toHaveLength(RUN_LIMIT);
  });
});
