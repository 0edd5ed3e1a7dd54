/**
 * The work queue's shards on the local stack, which gives each shard's event source its own
 * pollers as Lambda gives each its own slots: while a burst to a hanging endpoint holds its
 * shard's pollers, an app in another shard is delivered at once, and an app in the same shard
 * waits (which shows the burst did hold them). The shared-lane budget is raised to 6 s here so
 * that the hold is long and unmistakable; by default it is 1 s (docs/flow-control.md "Shards").
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { describe, expect, it } from 'vitest';
import { workShardOf } from '../../functions/delivery/work-shards';
import { topology } from '../../infra/topology';
import { sleep, useSystem } from '../helpers/e2e';

const BUDGET_MS = 6000;
const system = useSystem({
  HOOKRELAY_SHARED_LANE_BUDGET_MS: String(BUDGET_MS),
  HOOKRELAY_DELIVERY_TIMEOUT_MS: '8000',
});
const hook = system.hook;
const shardOf = (appId: string) => workShardOf(appId, topology.delivery.workShards);

/** A new app whose first attempts go to a shard that `wanted` accepts. */
async function appIn(wanted: (shard: number) => boolean): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const appId = await system.api.createApp();
    if (wanted(shardOf(appId))) return appId;
  }
  throw new Error('no app landed in the wanted shard in 200 tries');
}

describe('work queue shards', () => {
  it("delivers another shard's app at once while a hanging endpoint holds its own shard", async () => {
    const neighbour = await system.api.createApp();
    const hanging = hook([{ fault: 'hang' }]);
    await system.api.createEndpoint(neighbour, hanging);
    const shard = shardOf(neighbour);
    const elsewhere = await appIn((s) => s !== shard);
    const beside = await appIn((s) => s === shard);
    const [elsewhereUrl, besideUrl] = [hook(), hook()];
    await system.api.createEndpoint(elsewhere, elsewhereUrl);
    await system.api.createEndpoint(beside, besideUrl);

    // Three batches to the hanging endpoint: its shard's two pollers are each held for the budget.
    const burst = await system.api.hr.POST('/v1/apps/{appId}/events/batch', {
      params: { path: { appId: neighbour } },
      body: { events: Array.from({ length: 30 }, (_, i) => ({ type: 'noisy', data: { i } })) },
    });
    expect(burst.response.status).toBe(202);
    await sleep(500);

    const t0 = Date.now();
    await Promise.all([
      system.api.sendEvent(elsewhere, { type: 'quiet', data: {} }),
      system.api.sendEvent(beside, { type: 'quiet', data: {} }),
    ]);
    const arrival = async (url: string) => {
      while (system.receiver.on(url).length === 0) {
        if (Date.now() - t0 > 30_000) throw new Error(`no webhook at ${url} in 30 s`);
        await sleep(50);
      }
      return system.receiver.on(url)[0]!.at - t0;
    };
    const [elsewhereMs, besideMs] = await Promise.all([arrival(elsewhereUrl), arrival(besideUrl)]);

    // Another shard's app does not wait for the hanging endpoint's batches ...
    expect(elsewhereMs).toBeLessThan(2000);
    // ... which did hold their own shard: an app there waited most of the budget.
    expect(besideMs).toBeGreaterThan(BUDGET_MS / 2);
  });

  it('delivers to an app in every shard, whether its event is POSTed or put on the bus', async () => {
    if (!system.target.eventsEndpoint && !system.target.eventBusName)
      throw new Error('set E2E_EVENTS_ENDPOINT or E2E_EVENT_BUS_NAME');
    const apps: Array<{ appId: string; url: string }> = [];
    for (let shard = 0; shard < topology.delivery.workShards; shard++) {
      const appId = await appIn((s) => s === shard);
      const url = hook();
      await system.api.createEndpoint(appId, url);
      apps.push({ appId, url });
    }
    const eb = new EventBridgeClient(system.target.eventsEndpoint ? { endpoint: system.target.eventsEndpoint } : {});
    try {
      for (const { appId } of apps) {
        await system.api.sendEvent(appId, { type: 'posted', data: {} });
        const out = await eb.send(
          new PutEventsCommand({
            Entries: [
              {
                Source: 'com.example.shards',
                DetailType: 'put',
                Detail: JSON.stringify({ appId, data: {} }),
                EventBusName: system.target.eventBusName,
              },
            ],
          }),
        );
        expect(out.FailedEntryCount).toBe(0);
      }
    } finally {
      eb.destroy();
    }
    await system.receiver.waitFor(
      () => apps.every(({ url }) => system.receiver.on(url).length >= 2),
      30_000,
      'a POSTed and a bus event in every shard',
    );
    for (const { url } of apps) {
      expect(
        system.receiver
          .on(url)
          .map((r) => JSON.parse(r.body).type as string)
          .sort(),
      ).toEqual(['posted', 'put']);
    }
  });
});
