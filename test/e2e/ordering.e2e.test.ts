/**
 * Ordered delivery, end to end (docs/ordering.md): a strict endpoint receives the events that
 * share an ordering key one at a time, in accept order; a failing head holds its key's later
 * events while another key, and an unordered endpoint, flow meanwhile.
 */
import { describe, expect, it } from 'vitest';
import type { Behaviour, Received } from '../helpers/receiver';
import { useSystem } from '../helpers/e2e';

// Two retries a second apart (a head failing twice holds its key for about two seconds), then
// waits of 30 s (a head still failing then waits long enough to be skipped).
const system = useSystem({ HOOKRELAY_RETRY_SCHEDULE: '1,1,30,30' });

const idOf = (r: Received) => r.headers['webhook-id'] ?? '';

/** A receiver URL answered by `answer`, as the target's functions reach this machine. */
function hookAnswering(answer: (r: Received) => Behaviour): string {
  const url = new URL(system.receiver.respond(answer));
  url.hostname = system.target.receiverHost;
  return url.toString();
}

describe('a strict endpoint', () => {
  it('holds a key behind its failing head, in order, while another key and an unordered endpoint flow', async () => {
    const { api, receiver } = system;
    const appId = await api.createApp('ordering');
    // The strict endpoint fails the first event of key a twice, then takes everything.
    let headFailures = 0;
    const strictUrl = hookAnswering((r) => (idOf(r) === 'a-1' && headFailures++ < 2 ? 500 : 200));
    const strict = await api.createEndpoint(appId, strictUrl, { ordering: 'strict' });
    expect(strict.ordering).toBe('strict');
    const plainUrl = system.hook([200]);
    const plain = await api.createEndpoint(appId, plainUrl);
    expect(plain.ordering).toBe('none');

    // a-1, b-1, a-2, b-2, a-3, b-3, each answered 202 before the next is sent.
    for (const n of [1, 2, 3]) {
      for (const k of ['a', 'b']) {
        await api.sendEvent(appId, { id: `${k}-${n}`, type: 'order.updated', data: { n }, orderingKey: `order-${k}` });
      }
    }

    // While a-1 waits for its retry, a-2 waits for a-1, and says so (from the head's first failure,
    // for about two seconds: the status is polled until it shows).
    let waitingFor: string | undefined;
    for (let i = 0; i < 200 && waitingFor === undefined; i++) {
      const waiting = await api.eventStatus(appId, 'a-2');
      expect(waiting.orderingKey).toBe('order-a');
      waitingFor = waiting.deliveries.find((d) => d.endpointId === strict.id)?.waitingFor?.eventId;
      if (waitingFor === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    expect(waitingFor).toBe('a-1');

    const strictPath = new URL(strictUrl).pathname;
    await receiver.waitFor(
      (all) => all.filter((r) => r.path === strictPath).length >= 8,
      30_000,
      'every strict delivery',
    );
    const seen = receiver.on(strictPath).map(idOf);
    const ofKey = (k: string) => seen.filter((id) => id.startsWith(`${k}-`));
    // Key a in accept order, its head three times (two failures, then success) before a-2.
    expect(ofKey('a')).toEqual(['a-1', 'a-1', 'a-1', 'a-2', 'a-3']);
    expect(ofKey('b')).toEqual(['b-1', 'b-2', 'b-3']);
    // Key b did not wait for key a: all of it arrived before a-1 finally succeeded.
    expect(seen.indexOf('b-3')).toBeLessThan(seen.lastIndexOf('a-1'));

    // The unordered endpoint got all six before a-1's head succeeded on the strict one.
    await receiver.waitFor((all) => all.filter((r) => r.path === new URL(plainUrl).pathname).length >= 6, 10_000);
    const plainSeen = receiver.on(plainUrl);
    expect(plainSeen.map(idOf).sort()).toEqual(['a-1', 'a-2', 'a-3', 'b-1', 'b-2', 'b-3']);
    const headSucceededAt = receiver.on(strictPath).filter((r) => idOf(r) === 'a-1')[2]!.at;
    expect(Math.max(...plainSeen.map((r) => r.at))).toBeLessThan(headSucceededAt);

    const head = await api.waitForStatus(appId, 'a-1', (s) => s.deliveries.every((d) => d.status === 'succeeded'));
    expect(head.deliveries.find((d) => d.endpointId === strict.id)?.attempts).toBe(3);
    const held = await api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/ordering/held', {
      params: { path: { appId, endpointId: strict.id } },
    });
    expect(held.data?.items).toEqual([]);
  });

  it('skips the delivery holding a key: it fails "skipped by ...", goes to the DLQ, and the key moves on', async () => {
    const { api, receiver } = system;
    const appId = await api.createApp('ordering-skip');
    // The head of key k never succeeds; after its third failure it waits 30 s, and is skipped.
    const url = hookAnswering((r) => (idOf(r) === 'k-1' ? 503 : 200));
    const strict = await api.createEndpoint(appId, url, { ordering: 'strict' });
    for (const n of [1, 2]) {
      await api.sendEvent(appId, { id: `k-${n}`, type: 'order.updated', data: { n }, orderingKey: 'k' });
    }
    const endpointId = strict.id;
    const path = { appId, endpointId };
    // Held from its first failure; waiting 30 s from its third.
    let items: { orderingKey: string | null; eventId: string; attempts: number }[] = [];
    for (let i = 0; i < 200 && (items[0]?.attempts ?? 0) < 3; i++) {
      const r = await api.hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/ordering/held', { params: { path } });
      items = r.data?.items ?? [];
      await new Promise((res) => setTimeout(res, 100));
    }
    expect(items).toMatchObject([{ orderingKey: 'k', eventId: 'k-1', attempts: 3 }]);
    expect(receiver.received.some((r) => idOf(r) === 'k-2')).toBe(false);

    const skipped = await api.hr.POST('/v1/apps/{appId}/endpoints/{endpointId}/ordering/skip', {
      params: { path },
      body: { orderingKey: 'k' },
    });
    expect(skipped.response.status).toBe(202);
    expect(skipped.data).toEqual({ eventId: 'k-1', orderingKey: 'k' });
    const head = await api.eventStatus(appId, 'k-1');
    expect(head.deliveries[0]).toMatchObject({ status: 'failed', reason: 'skipped by the admin key' });
    // The key moves on at once: k-2 arrives without waiting for k-1's next attempt.
    await receiver.waitFor((all) => all.some((r) => idOf(r) === 'k-2'), 10_000, 'k-2 after the skip');
    await api.waitForStatus(appId, 'k-2', (s) => s.deliveries[0]?.status === 'succeeded');

    // Nothing holds the key now: a second skip is a 404.
    const again = await api.hr.POST('/v1/apps/{appId}/endpoints/{endpointId}/ordering/skip', {
      params: { path },
      body: { orderingKey: 'k' },
    });
    expect(again.response.status).toBe(404);
  });

  it("is paced by its rate limit, as the other lanes are: its keys' heads wait, none is lost", async () => {
    const { api, receiver } = system;
    const appId = await api.createApp('ordering-rate');
    const url = system.hook([200]);
    const perSecond = 4;
    await api.createEndpoint(appId, url, { ordering: 'strict', rateLimit: { perSecond } });
    // Six keys: unpaced, their heads would all go at once (each key is a group of its own). The
    // rate is shared out over the ordered lane's concurrency (10 containers at most), so one
    // container alone sends at a tenth of it: never above the rate, often below.
    const events = 6;
    for (let i = 0; i < events; i++)
      await api.sendEvent(appId, { id: `r-${i}`, type: 'order.updated', data: { i }, orderingKey: `key-${i}` });

    const path = new URL(url).pathname;
    await receiver.waitFor(
      (all) => all.filter((r) => r.path === path).length >= events,
      60_000,
      'every paced delivery',
    );
    const at = receiver.on(path).map((r) => r.at);
    const t0 = Math.min(...at);
    const shown = at.map((t) => t - t0).join(',');
    // Never more than the rate in a second (+1: a window may hold both ends of a spacing), and
    // spread over at least (events - 2) / rate seconds (the first token and the burst's one).
    for (const start of at)
      expect(at.filter((t) => t >= start && t < start + 1000).length, shown).toBeLessThanOrEqual(perSecond + 1);
    expect(Math.max(...at) - t0, shown).toBeGreaterThanOrEqual(((events - 2) / perSecond) * 1000);
    // Waiting for the rate is no attempt: each was sent once.
    expect(new Set(receiver.on(path).map(idOf)).size).toBe(events);
    expect(receiver.on(path)).toHaveLength(events);
  });
});
