/**
 * The capacity model from counted keys: runs on the embedded stack, the meter counting every
 * DynamoDB request's units by partition key (instrument.ts), then each key's units per event
 * scaled to the target rate and set beside DynamoDB's per-partition limits.
 *
 * - oneApp: one app (16 event shards), one endpoint, first-try successes, single POSTs;
 * - oneAppChosenIds: the same with ids the producer chose (`evb_...`, as every bus event's): one
 *   endpoint's delivery records spread over the shards all the same (each in its event's shard);
 * - zipf: 1,000 apps, events spread by a Zipf law (weight 1/rank), one endpoint each; an app whose
 *   share of 10,000 events/s is over 600/s gets the shards that keep each partition at 600;
 * - housekeeping: a recover-mode run (it reads both reconciles' windows at once) with 1 % of the
 *   registered apps active, its reads and time scaled to 1,000,000 apps (10,000 active): the
 *   idle ones cost nothing (test/integration/housekeeping-scale.int.test.ts counts it).
 *
 * Scaling a key's units linearly with events is right for what each event does (its event write,
 * its outcome write, reads of what it names). It is not for what a container caches (the busy
 * app's fan-out, endpoints): those grow with containers, not events, and the bound given for them
 * is the container count at the target rate times one read per cache period.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoAppStore, HOT_APP_READS } from '../functions/endpoints/dynamo-app-store';
import { DynamoTable } from '../functions/shared/dynamo-table';
import { activityPk } from '../functions/shared/table-layout';
import { dynamoClient } from '../infra/local/provision';
import { READ_CONCURRENCY } from '../functions/delivery/housekeeping';
import { AWS_LIMITS } from './capacity';
import { zipfPicker } from './cost';
import { startHarness, type Harness } from './harness';

export const TARGET_EVENTS_PER_SECOND = 10_000;
/** Event partitions (and one busy endpoint's delivery partitions) the one-app scenario uses. */
export const ONE_APP_SHARDS = 16;
const ZIPF_APPS = 1000;
/**
 * Lambda containers at the target rate (Little's law): single POSTs of ~30 ms on Lambda (a put, a
 * marker now and then, a SendMessage), and delivery batches of 10 in flight ~250 ms (a receiver
 * answering in 200 ms): the model's assumptions, stated here, not measured on AWS.
 */
const API_CONTAINERS = (TARGET_EVENTS_PER_SECOND * 30) / 1000;
const DELIVERY_CONTAINERS = (TARGET_EVENTS_PER_SECOND / 10) * 0.25;
/** A DynamoDB query's latency from Lambda in the same region, for the time model (typical: 5-10 ms). */
const DYNAMO_CALL_MS = 8;
/** Events per second one partition is planned for (60 % of its 1,000 write units). */
const PER_SHARD_EVENTS = 600;

export interface KeyLoad {
  /** The partition key with its ids replaced by their role (`EVENTS#<app>#3`). */
  key: string;
  wcuPerSecond: number;
  rcuPerSecond: number;
}

export interface KeyScenario {
  id: 'oneApp' | 'oneAppChosenIds' | 'zipf';
  title: string;
  eventsMeasured: number;
  eventsPerSecond: number;
  busiestWrite: KeyLoad;
  busiestRead: KeyLoad;
  /** The ten busiest keys by write units, then by read units. */
  top: KeyLoad[];
  /** Cached reads (a container's copy) bounded by containers, not events. */
  note: string;
}

export interface HousekeepingMillion {
  measured: { registeredApps: number; activeApps: number; calls: number; readUnits: number; seconds: number };
  millionApps: {
    registeredApps: number;
    activeApps: number;
    calls: number;
    readUnits: number;
    /** The measured run's time, scaled by active apps (the emulator answers one call at a time). */
    secondsOnEmulator: number;
    /** Calls at DYNAMO_CALL_MS each, READ_CONCURRENCY at a time (as the reconciles read). */
    secondsOnDynamoDb: number;
  };
}

export interface KeyCapacity {
  limits: { partitionWcu: number; partitionRcu: number };
  scenarios: KeyScenario[];
  housekeeping: HousekeepingMillion;
}

const type = 'invoice.paid';
const data = () => ({ invoice: `in_${Math.random().toString(36).slice(2)}`, amount: 4200, currency: 'eur' });

function appStore(h: Harness) {
  const db = DynamoDBDocumentClient.from(dynamoClient(h.stack.endpoints.dynamodb), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return { db, apps: new DynamoAppStore(new DynamoTable(db, { tableName: h.stack.tableName, retentionDays: 30 })) };
}

async function appWithEndpoint(h: Harness): Promise<string> {
  const appId = await h.api.createApp('capacity');
  const r = await h.api.call('POST', `/v1/apps/${appId}/endpoints`, { url: h.receiver.endpoint([200]) });
  if (r.status !== 201) throw new Error(`create endpoint: ${r.status}`);
  return appId;
}

/** A key with its ids replaced by the app's rank, so keys read as roles. */
function roleOf(pk: string, rankOf: Map<string, string>): string {
  return pk
    .split('#')
    .map((part) => rankOf.get(part) ?? (/^(ep|msg|evb)_/.test(part) ? `<${part.slice(0, part.indexOf('_'))}>` : part))
    .join('#');
}

/**
 * The activity markers at the target rate: each container that sees an app shard in a minute
 * reads its marker once (a shard sending r events a minute is seen by at most r containers), and
 * the first writes it, on the marker partition the app and shard hash to. Markers grow with time
 * and containers, not events: scaling their count in a short run by events would be wrong.
 */
function markerLoads(apps: Array<{ id: string; rate: number; shards: number }>): KeyLoad[] {
  const perPartition = new Map<string, { w: number; r: number }>();
  for (const app of apps) {
    for (let shard = 0; shard < app.shards; shard++) {
      const perMinute = Math.min(API_CONTAINERS, (app.rate / app.shards) * 60);
      const pk = activityPk(app.id, shard);
      const p = perPartition.get(pk) ?? { w: 0, r: 0 };
      // Each container that sees the shard in a minute reads its marker (half a unit); the first writes it.
      p.r += (perMinute * 0.5) / 60;
      p.w += Math.min(1, perMinute) / 60;
      perPartition.set(pk, p);
    }
  }
  return [...perPartition].map(([key, p]) => ({ key, wcuPerSecond: round(p.w), rcuPerSecond: round(p.r) }));
}

/**
 * Reads of an app's partition (APP#<appId>) at the target rate. The fan-out query is cached by a
 * container that reads the app HOT_APP_READS times a second (then once a second), the endpoint
 * by each delivery container for 5 s: so they grow with containers, and a short run on one
 * machine, whose few containers each see a few events a second, says nothing of them. Modelled
 * instead from the measured units per read and Lambda's containers at the target rate: an app
 * sending r events a second over C api containers reads its fan-out r times a second when r / C
 * is under HOT_APP_READS, else C times; its endpoints are read at most once per 5 s per delivery
 * container.
 */
function appReads(h: Harness, apps: Array<{ id: string; rate: number }>) {
  const per = (label: string) => {
    const d = [...h.meter.dynamo.values()].filter((x) => x.label === label);
    const calls = d.reduce((n, x) => n + x.calls, 0);
    return calls === 0 ? 0 : d.reduce((n, x) => n + x.readUnits, 0) / calls;
  };
  const fanOutRcu = per('query table APP#') || 1;
  const endpointRcu = per('get endpoint') || 0.5;
  return new Map(
    apps.map((a) => {
      const fanOuts = a.rate / API_CONTAINERS >= HOT_APP_READS ? API_CONTAINERS : a.rate;
      const endpointReads = Math.min(a.rate, DELIVERY_CONTAINERS / 5);
      return [`APP#${a.id}`, fanOuts * fanOutRcu + endpointReads * endpointRcu];
    }),
  );
}

function loads(
  h: Harness,
  events: number,
  rankOf: Map<string, string>,
  apps: Array<{ id: string; rate: number; shards: number }>,
  note: string,
) {
  const scale = TARGET_EVENTS_PER_SECOND / events;
  const markers = markerLoads(apps);
  const reads = appReads(h, apps);
  const all: KeyLoad[] = [...h.meter.keys]
    .filter(([pk]) => !pk.startsWith('ACTIVE#'))
    .map(([pk, u]) => ({
      key: roleOf(pk, rankOf),
      wcuPerSecond: round(u.wcu * scale),
      rcuPerSecond: round(reads.get(pk) ?? u.rcu * scale),
    }))
    .concat(markers);
  note = `${note}. APP#: the fan-out and endpoint reads of ${API_CONTAINERS} api and ${DELIVERY_CONTAINERS} delivery containers at the target rate (cached per container: by containers, not events); ACTIVE#<n>: the activity markers they read and write (by containers and minutes, not events)`;
  const byW = [...all].sort((a, b) => b.wcuPerSecond - a.wcuPerSecond);
  const byR = [...all].sort((a, b) => b.rcuPerSecond - a.rcuPerSecond);
  return {
    busiestWrite: byW[0]!,
    busiestRead: byR[0]!,
    top: [...new Map([...byW.slice(0, 6), ...byR.slice(0, 6)].map((k) => [k.key, k])).values()],
    note,
  };
}

const round = (n: number) => Math.round(n * 10) / 10;

async function sendAll(h: Harness, appOf: (n: number) => string, events: number, chosenIds = false) {
  for (let n = 0; n < events; n += 8) {
    await Promise.all(
      Array.from({ length: Math.min(8, events - n) }, async (_, i) => {
        // A chosen id has a bus event's shape (evb_<uuid>): shown as <evb> in the keys.
        const id = chosenIds ? { id: `evb_${randomUUID()}` } : {};
        const r = await h.api.sendEvent(appOf(n + i), { type, data: data(), ...id });
        if (r.status !== 202) throw new Error(`POST /events: ${r.status}`);
      }),
    );
  }
}

async function oneApp(events: number, chosenIds = false): Promise<KeyScenario> {
  const h = await startHarness({ captureLogs: true });
  const { db, apps } = appStore(h);
  try {
    const appId = await appWithEndpoint(h);
    await apps.raiseEventShards(appId, ONE_APP_SHARDS);
    h.meter.reset();
    const before = h.receiver.received.length;
    await sendAll(h, () => appId, events, chosenIds);
    await h.settle(before + events);
    return {
      id: chosenIds ? 'oneAppChosenIds' : 'oneApp',
      title: `one app, ${ONE_APP_SHARDS} event shards, one endpoint, single POSTs${chosenIds ? ' with ids the producer chose' : ''}, first-try successes`,
      eventsMeasured: events,
      eventsPerSecond: TARGET_EVENTS_PER_SECOND,
      ...loads(
        h,
        events,
        new Map([[appId, '<app>']]),
        [{ id: appId, rate: TARGET_EVENTS_PER_SECOND, shards: ONE_APP_SHARDS }],
        `one endpoint receives every event: its delivery records spread over the same ${ONE_APP_SHARDS} shards as the events (DLV#<app>#<ep>#<n>)${chosenIds ? ", each in its event's shard, which the delivery's messages carry (the ids name none); each event also claims its id (IDEM#<app>#<evb>, one key per event)" : ''}`,
      ),
    };
  } finally {
    db.destroy();
    await h.stop();
  }
}

async function zipf(events: number): Promise<KeyScenario> {
  const h = await startHarness({ captureLogs: true });
  const { db, apps } = appStore(h);
  try {
    // Ranks 1..1000; only the ranks that get events in the sample are created (the rest are idle).
    const ranks = Array.from({ length: ZIPF_APPS }, (_, i) => i + 1);
    const pick = zipfPicker(ranks);
    const sample = Array.from({ length: events }, (_, n) => pick(n));
    const harmonic = ranks.reduce((a, r) => a + 1 / r, 0);
    const appOfRank = new Map<number, string>();
    for (const rank of new Set(sample)) {
      const appId = await appWithEndpoint(h);
      appOfRank.set(rank, appId);
      const rate = TARGET_EVENTS_PER_SECOND / rank / harmonic;
      if (rate > PER_SHARD_EVENTS) await apps.raiseEventShards(appId, Math.ceil(rate / PER_SHARD_EVENTS));
    }
    h.meter.reset();
    const before = h.receiver.received.length;
    await sendAll(h, (n) => appOfRank.get(sample[n]!)!, events);
    await h.settle(before + events);
    const rankOf = new Map([...appOfRank].map(([rank, appId]) => [appId, `<app rank ${rank}>`]));
    return {
      id: 'zipf',
      title: `${ZIPF_APPS.toLocaleString('en-US')} apps, events by a Zipf law (the busiest app ${Math.round(TARGET_EVENTS_PER_SECOND / harmonic).toLocaleString('en-US')}/s), one endpoint each; apps over ${PER_SHARD_EVENTS}/s sharded`,
      eventsMeasured: events,
      eventsPerSecond: TARGET_EVENTS_PER_SECOND,
      ...loads(
        h,
        events,
        rankOf,
        ranks.map((rank) => {
          const rate = TARGET_EVENTS_PER_SECOND / rank / harmonic;
          const shards = rate > PER_SHARD_EVENTS ? Math.ceil(rate / PER_SHARD_EVENTS) : 1;
          return { id: appOfRank.get(rank) ?? `app_rank${rank}`, rate, shards };
        }),
        `${appOfRank.size} of the ${ZIPF_APPS.toLocaleString('en-US')} apps got events in the sample`,
      ),
    };
  } finally {
    db.destroy();
    await h.stop();
  }
}

async function housekeepingAtScale(registered: number, active: number, eventsEach: number) {
  const h = await startHarness({ captureLogs: true });
  const { db, apps } = appStore(h);
  try {
    const ids = Array.from({ length: registered - active }, (_, i) => `app_idle${String(i).padStart(7, '0')}`);
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(
        ids.slice(i, i + 50).map((id) => apps.putApp({ id, name: id, createdAt: new Date().toISOString() })),
      );
    }
    const activeIds: string[] = [];
    for (let i = 0; i < active; i++) activeIds.push(await appWithEndpoint(h));
    await h.stack.runHousekeeping(); // the checkpoints and the markers' start, as on a running stack
    const before = h.receiver.received.length;
    await sendAll(h, (n) => activeIds[n % active]!, active * eventsEach);
    await h.settle(before + active * eventsEach);
    h.meter.reset();
    const started = performance.now();
    // A recover run reads both reconciles' windows over every event at once: one scheduled run's
    // work when those events fall in its windows.
    await h.stack.runHousekeeping({ recover: true });
    const seconds = (performance.now() - started) / 1000;
    const hk = [...h.meter.dynamo.values()].filter((d) => d.origin === 'housekeeping');
    const calls = hk.reduce((n, d) => n + d.calls, 0);
    const readUnits = hk.reduce((n, d) => n + d.readUnits, 0);
    const factor = 10_000 / active;
    return {
      measured: { registeredApps: registered, activeApps: active, calls, readUnits: round(readUnits), seconds },
      millionApps: {
        registeredApps: 1_000_000,
        activeApps: 10_000,
        calls: Math.round(calls * factor),
        readUnits: round(readUnits * factor),
        secondsOnEmulator: round(seconds * factor),
        secondsOnDynamoDb: round((calls * factor * DYNAMO_CALL_MS) / 1000 / READ_CONCURRENCY),
      },
    };
  } finally {
    db.destroy();
    await h.stop();
  }
}

export async function runKeyCapacity(sizes: { events: number; hkRegistered: number }): Promise<KeyCapacity> {
  const scenarios = [await oneApp(sizes.events), await oneApp(sizes.events, true), await zipf(sizes.events)];
  const housekeeping = await housekeepingAtScale(sizes.hkRegistered, sizes.hkRegistered / 100, 3);
  return {
    limits: { partitionWcu: AWS_LIMITS.dynamoPartitionWcu, partitionRcu: AWS_LIMITS.dynamoPartitionRcu },
    scenarios,
    housekeeping,
  };
}
