/**
 * A capacity model on paper: what 10,000 deliveries a second on AWS would need, from the counts and
 * durations the benchmark measured and AWS's documented limits. Nothing here is measured on AWS;
 * every input is named, so the arithmetic can be checked and re-done with other figures.
 */
import type { DeployedConfig } from './deployed';
import { type ScenarioResult } from './cost';

/** AWS limits the model checks against (defaults; most are soft quotas an account can raise). */
export const AWS_LIMITS = {
  dynamoPartitionWcu: 1000,
  dynamoPartitionRcu: 3000,
  lambdaAccountConcurrency: 1000,
  /** New execution environments a function may add every 10 seconds. */
  lambdaScalingPer10s: 1000,
  apiGatewayAccountRps: 10_000,
  /** EventBridge PutEvents requests per second (us-east-1 default; each up to 10 entries). */
  eventBridgePutEventsRps: 10_000,
  sqsStandardThroughput: 'nearly unlimited per queue (AWS: no documented per-queue limit for standard queues)',
} as const;

export interface CapacityInput {
  deliveriesPerSecond: number;
  /** Time a real receiver takes to answer; the local receiver answers in well under a millisecond. */
  receiverLatencyMs: number;
  /** The measured scenario the per-delivery counts come from, and the ingest it stands for. */
  scenario: ScenarioResult;
  /** Delivery invocation duration with full batches of 10 (measured in the fan-out run), ms. */
  fullBatchDeliveryMs: number;
  deployed: DeployedConfig;
  openShards: number;
}

export interface CapacityRow {
  what: string;
  need: string;
  limit: string;
  ok: boolean;
  note: string;
}

export interface CapacityModel {
  input: Omit<CapacityInput, 'scenario' | 'deployed'> & { scenario: string; apiStageRateLimit: number };
  rows: CapacityRow[];
  lambdaConcurrency: Record<string, number>;
  /** The largest delivery rate each per-key DynamoDB limit allows, before any change. */
  ceilings: {
    openIndexDeliveriesPerSecond: number;
    feedEventsPerSecondPerApp: number;
    appPartitionEventsPerSecond: number;
  };
  /** Open-index shards the rate needs, keeping each at 80 % of a partition's write limit. */
  openShardsNeeded: number;
  openWruPerDelivery: number;
  monthly: { deliveries: number; usd: number; usdPerMillion: number };
}

/** Event shards an app may have (one id character names the shard). */
const MAX_EVENT_SHARDS = 32;
/** Shards that keep each of an app's event partitions at 60 % of its write limit. */
const shardsFor = (wcu: number) => Math.max(1, Math.ceil(wcu / (0.6 * AWS_LIMITS.dynamoPartitionWcu)));

const perDelivery = (r: ScenarioResult, pick: (d: ScenarioResult['dynamo'][number]) => number) =>
  r.dynamo.reduce((n, d) => n + pick(d), 0) / r.deliveries;

export function capacityModel(input: CapacityInput): CapacityModel {
  const r = input.scenario;
  const rate = input.deliveriesPerSecond;
  const eventsPerDelivery = r.events / r.deliveries;
  const eventRate = rate * eventsPerDelivery;
  const f = r.functions;

  // Little's law: concurrency = arrival rate x time in the system.
  const apiRate = (f.api.invocations / r.deliveries) * rate;
  const ingestRate = (f.ingest.invocations / r.deliveries) * rate;
  const deliveryInvocationRate = rate / 10;
  const lambdaConcurrency = {
    api: Math.ceil(apiRate * (f.api.meanMs / 1000)),
    ingest: Math.ceil(ingestRate * (f.ingest.meanMs / 1000)),
    delivery: Math.ceil(deliveryInvocationRate * ((input.fullBatchDeliveryMs + input.receiverLatencyMs) / 1000)),
  };
  const totalConcurrency = lambdaConcurrency.api + lambdaConcurrency.ingest + lambdaConcurrency.delivery;
  const esMax = input.deployed.eventSources[0]?.maxConcurrency ?? 1000;
  const esDeliveriesPerSecond = (esMax * 10) / ((input.fullBatchDeliveryMs + input.receiverLatencyMs) / 1000);

  const openWru = perDelivery(r, (d) => d.indexWriteUnits.open ?? 0);
  // An app's events share one partition (EVENTS#<appId>, which is also its feed): the event puts' units.
  const feedWruPerEvent = perDelivery(r, (d) => (d.label === 'put event' ? d.tableWriteUnits : 0)) / eventsPerDelivery;
  // Reads on the app's partition per event: the fan-out Query at ingest, and each attempt's read of
  // its endpoint item (one of the three items of the context BatchGetItem).
  const appQueryRru =
    r.dynamo.filter((d) => d.label === 'query table APP#').reduce((n, d) => n + d.readUnits, 0) / r.events;
  const endpointReadRru =
    r.dynamo.filter((d) => d.label.startsWith('batch get')).reduce((n, d) => n + d.readUnits / 3, 0) / r.events;
  const appRruPerEvent = appQueryRru + endpointReadRru;

  const ceilings = {
    openIndexDeliveriesPerSecond: openWru > 0 ? (input.openShards * AWS_LIMITS.dynamoPartitionWcu) / openWru : Infinity,
    feedEventsPerSecondPerApp:
      feedWruPerEvent > 0 ? (MAX_EVENT_SHARDS * AWS_LIMITS.dynamoPartitionWcu) / feedWruPerEvent : Infinity,
    appPartitionEventsPerSecond: appRruPerEvent > 0 ? AWS_LIMITS.dynamoPartitionRcu / appRruPerEvent : Infinity,
  };
  const shardsNeeded = Math.ceil((rate * openWru) / AWS_LIMITS.dynamoPartitionWcu / 0.8);
  const apiRps = (r.api.requests / r.deliveries) * rate;
  const putEventsRps = (r.putEvents.calls / r.deliveries) * rate;
  const fmt = (n: number) => (n === Infinity ? 'none' : Math.round(n).toLocaleString('en-US'));

  const rows: CapacityRow[] = [
    {
      what: 'Lambda concurrency (account)',
      need: `${fmt(totalConcurrency)} (api ${fmt(lambdaConcurrency.api)}, ingest ${fmt(lambdaConcurrency.ingest)}, delivery ${fmt(lambdaConcurrency.delivery)})`,
      limit: `${fmt(AWS_LIMITS.lambdaAccountConcurrency)} by default per region`,
      ok: totalConcurrency <= AWS_LIMITS.lambdaAccountConcurrency * 0.8,
      note: `measured mean durations; delivery: a batch of 10 takes ${Math.round(input.fullBatchDeliveryMs)} ms here plus ${input.receiverLatencyMs} ms for the receivers to answer`,
    },
    {
      what: `A slow endpoint (every attempt runs into the ${input.deployed.deliveryTimeoutMs / 1000} s timeout)`,
      need: `each batch holding one of its deliveries takes ${input.deployed.deliveryTimeoutMs / 1000} s`,
      limit: `${esMax} concurrent batches per queue: ${fmt((esMax * 10) / (input.deployed.deliveryTimeoutMs / 1000))} deliveries/s if every batch holds one`,
      ok: (esMax * 10) / (input.deployed.deliveryTimeoutMs / 1000) >= rate,
      note: 'a batch ends with its slowest POST: one dead endpoint with a share of the traffic holds the others back (head-of-line blocking); nothing limits concurrency per endpoint',
    },
    {
      what: 'Delivery event sources (maximumConcurrency per queue)',
      need: `${fmt(lambdaConcurrency.delivery)} concurrent batches`,
      limit: `${esMax} per queue: at most ${fmt(esDeliveriesPerSecond)} deliveries/s`,
      ok: esDeliveriesPerSecond >= rate,
      note: 'a construct prop (maxConcurrency, 2 to 1000)',
    },
    ...(apiRps > 0
      ? [
          {
            what: 'API Gateway requests',
            need: `${fmt(apiRps)} requests/s`,
            limit: `stage throttle ${input.deployed.apiStageRateLimit}/s (construct default); account ${fmt(AWS_LIMITS.apiGatewayAccountRps)}/s`,
            ok: apiRps <= input.deployed.apiStageRateLimit,
            note: r.api.requests < r.events ? 'batch POSTs of 100' : 'one POST per event',
          },
        ]
      : []),
    ...(putEventsRps > 0
      ? [
          {
            what: 'EventBridge PutEvents',
            need: `${fmt(putEventsRps)} requests/s (${fmt(eventRate)} entries/s), ${fmt(ingestRate)} ingest invocations/s`,
            limit: `${fmt(AWS_LIMITS.eventBridgePutEventsRps)} requests/s (us-east-1 default)`,
            ok: putEventsRps <= AWS_LIMITS.eventBridgePutEventsRps,
            note: 'EventBridge invokes the ingest function once per event (asynchronously)',
          },
        ]
      : []),
    {
      what: 'SQS (sends, event-source receives and deletes)',
      need: `${fmt((r.sqs.reduce((n, s) => n + s.billedRequests, 0) / r.deliveries) * rate)} requests/s`,
      limit: AWS_LIMITS.sqsStandardThroughput,
      ok: true,
      note: 'standard queue',
    },
    openWru === 0
      ? {
          what: `open index: ${input.openShards} shards (partition keys)`,
          need: 'no writes for first-try successes',
          limit: `${fmt(AWS_LIMITS.dynamoPartitionWcu)} WCU/s per partition`,
          ok: true,
          note: 'only retries (and their housekeeping) write it',
        }
      : {
          what: `open index: ${input.openShards} shards (partition keys)`,
          need: `${fmt(rate * openWru)} WCU/s = ${fmt((rate * openWru) / input.openShards)} per shard (${openWru.toFixed(1)} WRU per delivery)`,
          limit: `${fmt(AWS_LIMITS.dynamoPartitionWcu)} WCU/s per partition: at most ${fmt(ceilings.openIndexDeliveriesPerSecond)} deliveries/s`,
          ok: ceilings.openIndexDeliveriesPerSecond >= rate,
          note: `the sort key starts with a due time, so writes pile onto the newest end of each shard and splitting for heat does not spread them; needs ${shardsNeeded} shards at 80 % of the limit`,
        },
    {
      what: `events: EVENTS#<appId>#<n> (the app's event shards, merged for its feed), if one app sends everything with ${shardsFor(eventRate * feedWruPerEvent)} shards`,
      need: `${fmt(eventRate * feedWruPerEvent)} WCU/s (${feedWruPerEvent.toFixed(1)} per event): ${fmt((eventRate * feedWruPerEvent) / shardsFor(eventRate * feedWruPerEvent))} per shard`,
      limit: `${fmt(AWS_LIMITS.dynamoPartitionWcu)} WCU/s per shard, up to ${MAX_EVENT_SHARDS} shards: at most ${fmt(ceilings.feedEventsPerSecondPerApp)} events/s for one app`,
      ok: ceilings.feedEventsPerSecondPerApp >= eventRate,
      note: "an app's eventShards is raised for it (docs/data-model.md); section 5b counts the keys of such a run",
    },
    {
      what: 'app partition APP#<appId> (fan-out query + endpoint reads), if one app sends everything',
      need: `${fmt(eventRate * appRruPerEvent)} RCU/s (${appRruPerEvent.toFixed(2)} per event)`,
      limit: `${fmt(AWS_LIMITS.dynamoPartitionRcu)} RCU/s: at most ${fmt(ceilings.appPartitionEventsPerSecond)} events/s for one app`,
      ok: ceilings.appPartitionEventsPerSecond >= eventRate,
      note: 'the fan-out query per POST (a busy app reuses it for 1 s per container) and cached endpoint reads: with batch POSTs, a read per 100 events',
    },
    {
      what: 'event, delivery and attempt items (EVT#<appId>#<eventId>)',
      need: `${fmt(rate * perDelivery(r, (d) => d.tableWriteUnits))} WCU/s over as many partitions as events`,
      limit: 'spread by event id: scales with the table',
      ok: true,
      note: 'on demand, a new table serves 4,000 WCU/s at first and doubles its previous peak on demand (pre-warm or warm throughput for a launch at full rate)',
    },
  ];

  const deliveriesPerMonth = rate * 86_400 * 30;
  return {
    input: {
      deliveriesPerSecond: rate,
      receiverLatencyMs: input.receiverLatencyMs,
      fullBatchDeliveryMs: input.fullBatchDeliveryMs,
      apiStageRateLimit: input.deployed.apiStageRateLimit,
      openShards: input.openShards,
      scenario: r.id,
    },
    rows,
    lambdaConcurrency,
    ceilings,
    openShardsNeeded: shardsNeeded,
    openWruPerDelivery: openWru,
    monthly: {
      deliveries: deliveriesPerMonth,
      usd: (r.totalPerMillion * deliveriesPerMonth) / 1e6,
      usdPerMillion: r.totalPerMillion,
    },
  };
}
