/**
 * The skip route's service (functions/ordering/ordering-service.ts): what a skip writes, and that
 * it resumes an endpoint the breaker paused, which the flow gate then adopts.
 */
import { describe, expect, it } from 'vitest';
import { createFlowGate } from '../../functions/flow/gate';
import type { DeliveryKey, DeliveryMessage } from '../../functions/delivery/lifecycle';
import type { HeldKey } from '../../functions/ordering/ordering';
import { createOrderingService } from '../../functions/ordering/ordering-service';
import type { Endpoint, StoredThrottle } from '../../functions/shared/model';
import { anEndpoint } from '../helpers/fixtures';

const NOW = new Date('2026-12-05T03:00:00.000Z');

function setup(endpoint: Endpoint) {
  const head: HeldKey = {
    appId: endpoint.appId,
    endpointId: endpoint.id,
    orderingKey: 'k',
    eventId: 'k-1',
    eventAt: '2026-12-05T02:59:00.000Z',
    attempts: 6,
    nextAttemptAt: '2026-12-05T03:10:00.000Z',
    lastError: 'HTTP 500',
    receiptHandle: 'rh-1',
  };
  const saved: StoredThrottle[] = [];
  const deadLetters: DeliveryMessage[] = [];
  const released: string[] = [];
  let held: HeldKey | null = head;
  const service = createOrderingService({
    held: {
      put: async () => {},
      touch: async () => {},
      clear: async () => {
        held = null;
      },
      get: async () => held,
      list: async () => (held ? [held] : []),
    },
    store: {
      skipHead: async (_k: DeliveryKey, attempts: number) => attempts === head.attempts,
      getDelivery: async () => null,
    },
    deadLetters: { send: async (m) => void deadLetters.push(m as DeliveryMessage) },
    release: async (rh) => (released.push(rh), true),
    getEndpoint: async () => endpoint,
    saveThrottle: async (_a, _e, t) => void saved.push(t),
    now: () => NOW,
  });
  return { service, saved, deadLetters, released };
}

describe('skipping a held key', () => {
  it('fails the head, dead-letters it and releases its message; a healthy endpoint keeps its flow state', async () => {
    const { service, saved, deadLetters, released } = setup(anEndpoint());
    const out = await service.skip('app_1', 'ep_1', { orderingKey: 'k' }, 'the admin key');
    expect(out).toEqual({ eventId: 'k-1', orderingKey: 'k' });
    expect(deadLetters).toHaveLength(1);
    expect(released).toEqual(['rh-1']);
    expect(saved).toEqual([]);
  });

  it('resumes an endpoint the breaker paused, at one request a second, and the gate adopts it', async () => {
    const paused: StoredThrottle = {
      state: 'paused',
      reason: '5 failed attempts in a row (last: HTTP 500)',
      until: '2026-12-05T03:15:00.000Z',
      probeEveryMs: 900_000,
      since: '2026-12-05T02:58:00.000Z',
    };
    const endpoint = anEndpoint({ throttle: paused });
    const gate = createFlowGate({ random: () => 0 });
    // Paused: the ordered lane's heads wait for the probe a quarter of an hour away.
    const before = gate.admit(endpoint, 'ordered', NOW.getTime());
    expect(before).toMatchObject({ go: false, reason: 'paused' });

    const { service, saved } = setup(endpoint);
    await service.skip('app_1', 'ep_1', { orderingKey: 'k' }, 'the admin key');
    expect(saved).toEqual([
      {
        state: 'throttled',
        perSecond: 1,
        reason: 'resumed: a held key was skipped by the admin key',
        since: NOW.toISOString(),
      },
    ]);
    // Every container adopts the newer state from the endpoint's record: the next head goes.
    const after = gate.admit({ ...endpoint, throttle: saved[0] }, 'ordered', NOW.getTime() + 1);
    expect(after).toMatchObject({ go: true });
  });
});
