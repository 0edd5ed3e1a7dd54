/**
 * docs/performance.md, written from a run's results: every figure in it comes from the run, the
 * prices module or the deployed stack's configuration, and the prose around the figures says how
 * each was obtained.
 */
import { applyChanges, PROVISIONED } from './design-changes';
import { floorPerMillion, floorUnits, GOALS, unitsPerDelivery } from './figures';
import type { CapacityModel } from './capacity';
import type { KeyCapacity, KeyLoad, KeyScenario } from './capacity-keys';
import type { ColdStartResult, BundleMeasure } from './cold-start';
import { SCENARIOS, topLines, type CostLine, type ScenarioId, type ScenarioResult } from './cost';

import { INDEXES } from './dynamo-capacity';
import type { LatencyResult } from './latency';
import type { IsolationResult } from './isolation';
import { PRICES } from './prices';
import type { ThroughputResult, ThroughputRun } from './throughput';
import { throughputFindings } from './throughput-findings';
import type { BenchResults } from './results';

export type { BenchResults, ChangePlan } from './results';

export const GOAL_PER_MILLION = 1.2;

// ---- formatting -------------------------------------------------------------------------------

export const usd = (n: number) =>
  Math.abs(n) >= 100 ? `$${n.toFixed(0)}` : Math.abs(n) >= 0.995 ? `$${n.toFixed(2)}` : `$${n.toFixed(3)}`;
const money = (n: number) => `$${Math.round(n).toLocaleString('en-US')}`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`;
const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
const pct = (n: number) => `${(n * 100).toFixed(n < 0.1 ? 1 : 0)} %`;
const qty = (n: number) =>
  n === 0 ? '0' : n >= 100 ? int(n) : n >= 0.01 ? n.toFixed(3).replace(/\.?0+$/, '') : n.toExponential(2);

function table(head: string[], rows: Array<Array<string | number>>, align?: Array<'l' | 'r'>): string {
  const a = align ?? head.map((_, i) => (i === 0 ? 'l' : 'r'));
  return [
    `| ${head.join(' | ')} |`,
    `|${a.map((x) => (x === 'r' ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

const scenario = (res: BenchResults, id: ScenarioId) => res.cost?.scenarios.find((s) => s.id === id);

// ---- the document -----------------------------------------------------------------------------

export function renderMarkdown(res: BenchResults): string {
  const out: string[] = [];
  const m = res.meta;
  out.push(
    '# Performance: measured, not claimed',
    '',
    `Every figure on this page was produced by \`npm run bench\` (${m.mode} mode) on ${m.date}, at commit \`${m.commit}\`, on ${m.cpus} × ${m.cpuModel} with Node ${m.node}. Re-run it to check or update them; \`npm run bench -- --quick\` is the CI-sized run. Costs are counted on the embedded local stack (\`npm start\`), which runs the real handlers against real-protocol emulators, and priced at AWS's public us-east-1 prices (\`bench/prices.ts\`, each with its source and date). Load average when the run started: ${m.loadAverage.map((l) => l.toFixed(1)).join(', ')} (the machine is shared; timings vary with it, counts do not).`,
    '',
  );
  out.push(...summary(res), '');
  if (res.cost) out.push(...costSection(res), '');
  if (res.latency) out.push(...latencySection(res.latency), '');
  if (res.isolation) out.push(...isolationSection(res.isolation), '');
  if (res.throughput)
    out.push(...throughputSection(res.throughput), '', ...throughputFindings(res.throughput, table), '');
  if (res.coldStart) out.push(...coldStartSection(res.coldStart), '');
  if (res.ordering) out.push(...orderingSection(res.ordering), '');
  if (res.capacity && res.cost) out.push(...capacitySection(res), '');
  if (res.keyCapacity) out.push(...keyCapacitySection(res.keyCapacity), '');
  out.push(...pricesSection(), '');
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim()}\n`;
}

function summary(res: BenchResults): string[] {
  const rows: string[][] = [];
  const goalOf: Partial<Record<ScenarioResult['id'], number>> = {
    single: GOALS.singlePostPerMillion,
    batch: GOALS.batchPostPerMillion,
    retry: GOALS.oneRetryPerMillion,
  };
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**');
  for (const s of res.cost?.scenarios ?? []) {
    const goal = goalOf[s.id];
    rows.push([
      `Cost: ${s.title}`,
      `${usd(s.totalPerMillion)} per million deliveries (${usd(s.totalPerMillionAt2xDuration)} at 2× Lambda durations)`,
      usd(floorPerMillion(s)),
      goal === undefined ? '' : `≤ ${usd(goal)}: ${verdict(s.totalPerMillion <= goal)}`,
    ]);
    if (s.id === 'batch') {
      const provisioned = applyChanges(s, [PROVISIONED], {}).result.totalPerMillion;
      rows.push([`Cost: ${s.title}, on provisioned capacity (70 % utilized)`, usd(provisioned), '', '']);
    }
  }
  const single = res.cost?.scenarios.find((s) => s.id === 'single');
  if (single) {
    const u = unitsPerDelivery(single);
    const f = floorUnits(single);
    rows.push([
      'DynamoDB write units per delivery (single POSTs, first try, one endpoint; table and indexes)',
      u.writes.toFixed(2),
      f.writes.toFixed(2),
      `≤ ${GOALS.writeUnitsPerDelivery}: ${verdict(u.writes <= GOALS.writeUnitsPerDelivery)}`,
    ]);
    rows.push([
      'DynamoDB read units per delivery (the same)',
      u.reads.toFixed(2),
      f.reads.toFixed(2),
      `≤ ${GOALS.readUnitsPerDelivery}: ${verdict(u.reads <= GOALS.readUnitsPerDelivery)}`,
    ]);
  }
  for (const p of res.cost?.plans ?? []) {
    rows.push([
      `Cost after the further design changes below: ${SCENARIOS[p.scenario]}`,
      `${usd(p.after.totalPerMillion)} on demand; ${usd(p.provisioned)} on provisioned capacity`,
      '',
      '',
    ]);
  }
  if (res.latency) {
    const l = res.latency;
    rows.push([
      'Latency, 202 to first byte at the receiver',
      `p50 ${ms(l.p50Ms)}, p95 ${ms(l.p95Ms)}, p99 ${ms(l.p99Ms)} (${int(l.events)} events at ${l.ratePerSecond}/s)`,
      '',
      '',
    ]);
  }
  if (res.throughput) {
    const t = res.throughput;
    rows.push([
      `Throughput, zero loss (batch POSTs of ${t.settings.batchSize})`,
      `${t.hookrelay.deliveredPerSecond.toFixed(1)} deliveries/s; bare baseline ${t.baseline.deliveredPerSecond.toFixed(1)}/s; ratio ${t.ratio.toFixed(2)}`,
      'ratio 1.00',
      `≥ ${GOALS.ratioToBare}: ${verdict(t.ratio >= GOALS.ratioToBare)}`,
    ]);
  }
  if (res.coldStart) {
    const c = res.coldStart;
    for (const h of c.handlers) {
      const before = c.compare[0]?.handlers.find((b) => b.name.startsWith(`${h.name}@`));
      rows.push([
        `Cold start: ${h.name}`,
        `${kb(h.bytes)}, init ${ms(h.initMs)} = ${h.initRatio.toFixed(2)}× hello world` +
          (before
            ? ` (at ${c.compare[0]!.ref}, with undici and zod classic: ${kb(before.bytes)}, ${ms(before.initMs)} = ${before.initRatio.toFixed(2)}×)`
            : ''),
        '',
        '',
      ]);
    }
  }
  return [
    '## Summary',
    '',
    'The floor is what the figure would be with only the requests this design cannot avoid: one DynamoDB write per accepted event and one per delivery outcome, one read of the app per ingest request, and everything else as measured (`bench/figures.ts`). `docs/performance.json` carries the same figures.',
    '',
    table(['what', 'measured', 'floor', 'goal'], rows, ['l', 'l', 'l', 'l']),
  ];
}

function cheapest(res: BenchResults): ScenarioResult | undefined {
  const s = res.cost?.scenarios ?? [];
  return [...s].sort((a, b) => a.totalPerMillion - b.totalPerMillion)[0];
}

function costSection(res: BenchResults): string[] {
  const cost = res.cost!;
  const d = res.deployed.functions;
  const out: string[] = ['## 1. Cost per million deliveries', ''];
  out.push(
    '### How it is counted',
    '',
    '- **Lambda**: every handler is wrapped, so each invocation is counted and timed (wall clock, rounded up to the millisecond as Lambda bills it). ' +
      `Memory comes from the synthesized stack: api ${d.api.memoryMb} MB, delivery ${d.delivery.memoryMb} MB, ingest ${d.ingest.memoryMb} MB, housekeeping ${d.housekeeping.memoryMb} MB, all ${d.delivery.architecture}. ` +
      "During the cost runs invocations run one at a time: on AWS each has its own execution environment, here they share one thread, and overlapping ones would be timed with each other's work. " +
      "**Local durations on this machine stand in for Lambda's**; the emulators answer in about the time DynamoDB and SQS take from inside a region, but the CPU is not a Lambda CPU, so each total is also given with every duration doubled.",
    "- **DynamoDB**: middleware on the handlers' own client adds `ReturnConsumedCapacity: 'TOTAL'` to every request; the table's units are what the emulator (dynalite) reports, sized as DynamoDB sizes them. " +
      `dynalite reports no index units, so each index write is computed from the item's images before and after the write (put, delete, key move = delete + put, or update of a projected attribute; ${INDEXES.map((i) => `${i.name} projects ${i.projection === 'ALL' ? 'all attributes' : 'keys only'}`).join(', ')}, as \`infra/topology.ts\` says). A query is billed at least half a unit even when it finds nothing.`,
    "- **SQS**: every request the functions make, with each 64 KB of payload as one request; the event source mapping's side is one ReceiveMessage per delivery invocation and one DeleteMessageBatch per 10 records it succeeded on (its empty long polls are a flat cost, priced at rest in [deploy.md](deploy.md)).",
    '- **API Gateway** and **EventBridge**: one request per api invocation (512 KB chunks), one event per PutEvents entry (64 KB chunks). EventBridge invokes the ingest function once per event; delivery to a Lambda target is not charged.',
    '- **CloudWatch Logs**: what the handlers write (captured, at the log level AWS would use: INFO, metrics on), plus the three platform lines Lambda writes per invocation in the JSON log format and one API access-log line per request, both sized from their documented shapes, plus 26 bytes per log event.',
    `- **X-Ray**: the functions have active tracing (${d.api.tracing}); the default sampling rule records the first request each second and 5 % of the rest. At volume the per-delivery share is 5 % of invocations × $5 per million; the reservoir (at most one trace a second per function, ~2.6 million a month, ~$13) is a flat cost.`,
    '- **Storage**: the items a scenario created, at their measured size + 100 bytes, in the table and in each index holding them, kept for the 30-day retention: the steady-state storage that a million deliveries a month keeps, plus point-in-time recovery on the table part.',
    "- **Data transfer**: the webhook requests' bytes as the receiver got them (request line, headers, body), at the internet egress price. The functions are not in a VPC, so no NAT gateway charge.",
    '- **Not per delivery**: housekeeping (runs every minute whatever the traffic; see deploy.md), custom metrics (priced per metric-month: 9 metrics, $2.70 a month), alarms and the dashboard.',
    '- Each scenario sends its events one request at a time; the batching the functions see (records per delivery invocation) is the one its ingest mode produces. Every scenario checks that every accepted event reached its endpoint(s) exactly once (exactly twice, with the first answered 500, for the retry scenario).',
    '',
  );

  out.push('### Totals', '');
  out.push(
    table(
      [
        'scenario',
        'events',
        'deliveries',
        'exactly once',
        'records per delivery invocation',
        'per million deliveries',
        'at 2× durations',
        'top three lines',
      ],
      cost.scenarios.map((s) => [
        s.title,
        int(s.events),
        int(s.deliveries),
        s.exactlyOnce.ok ? 'yes' : `**no** (missing ${s.exactlyOnce.missing}, duplicates ${s.exactlyOnce.duplicates})`,
        (s.functions.delivery.records / Math.max(1, s.functions.delivery.invocations)).toFixed(1),
        `**${usd(s.totalPerMillion)}**`,
        usd(s.totalPerMillionAt2xDuration),
        topLines(s)
          .map((l) => `${l.service} ${l.item} ${usd(l.usdPerMillion)}`)
          .join('; '),
      ]),
      ['l', 'r', 'r', 'l', 'r', 'r', 'r', 'l'],
    ),
    '',
  );

  for (const s of cost.scenarios) {
    out.push(`### ${s.title}`, '');
    out.push(lineTable(s.lines), '');
    const fns = Object.entries(s.functions).filter(([, f]) => f.invocations > 0);
    out.push(
      'Lambda, measured: ' +
        fns
          .map(
            ([n, f]) =>
              `${n} ${int(f.invocations)} invocations (${(f.records / f.invocations).toFixed(1)} records each), mean ${ms(f.meanMs)}, p95 ${ms(f.p95Ms)}`,
          )
          .join('; ') +
        '.',
      '',
    );
  }

  const single = scenario(res, 'single');
  if (single) {
    out.push('### Every DynamoDB request, per delivery (single POSTs, one endpoint)', '');
    out.push(dynamoTable(single), '');
  }

  out.push(...goalGaps(res), '');

  out.push(`### What stands between (a) and ${usd(GOAL_PER_MILLION)} per million`, '');
  const a = (['single', 'batch', 'putevents'] as const)
    .map((id) => scenario(res, id))
    .filter((s): s is ScenarioResult => s !== undefined);
  const met = a.filter((s) => s.totalPerMillion <= GOAL_PER_MILLION);
  out.push(
    met.length > 0
      ? `The goal (EventBridge API Destinations' price) is met by: ${met.map((s) => s.title).join('; ')}.`
      : `The goal (EventBridge API Destinations' price) is **not met** by any ingest mode of (a): the cheapest, ${[...a].sort((x, y) => x.totalPerMillion - y.totalPerMillion)[0]?.title ?? ''}, costs ${usd(Math.min(...a.map((s) => s.totalPerMillion)))}. Line by line, for each mode (per million deliveries):`,
    '',
  );
  if (a.length > 0) out.push(compareLines(a), '');
  out.push(
    `DynamoDB is most of it. Per delivery, (a) makes these writes (${WRITE_PARTS}, from the table above): ` +
      (single ? dynamoWriteSummary(single) : '') +
      ` Index writes follow the projections (${INDEXES.map((i) => `${i.name}: ${i.projection}`).join(', ')}): an entry is written when an item joins or leaves an index or its index key changes (two writes: delete and put), and, for an ALL index, whenever the item changes.`,
    '',
  );

  out.push('### Design changes, and what each would save', '');
  out.push(
    'Each change is priced by rewriting the measured counts as the changed design would make them, then pricing again. They are applied in this order, each on top of the previous ones, so the savings add up; the last column of each is the total after it.',
    '',
  );
  const saves = (i: number) => cost.plans.some((p) => Math.abs(p.steps[i]?.savingPerMillion ?? 0) >= 0.0005);
  cost.changes.forEach((c, i) => {
    if (saves(i)) out.push(`- **${c.title}** (\`${c.id}\`). ${c.detail}`);
  });
  out.push(`- **${cost.provisioned.title}** (\`${cost.provisioned.id}\`). ${cost.provisioned.detail}`, '');
  if (cost.plans.length > 0) {
    const head = [
      'change',
      ...cost.plans.flatMap((p) => [`${SCENARIOS[p.scenario].split(': ')[1] ?? p.scenario}: saves`, 'total after']),
    ];
    const rows: string[][] = [['(as measured)', ...cost.plans.flatMap((p) => ['', usd(p.before)])]];
    const done: string[] = [];
    cost.plans[0]!.steps.forEach((step, i) => {
      // A change the measured design already has saves nothing: list it apart.
      if (cost.plans.every((p) => Math.abs(p.steps[i]!.savingPerMillion) < 0.0005)) {
        done.push(step.title);
        return;
      }
      rows.push([
        step.title,
        ...cost.plans.flatMap((p) => [usd(p.steps[i]!.savingPerMillion), usd(p.steps[i]!.totalAfter)]),
      ]);
    });
    rows.push([
      cost.provisioned.title,
      ...cost.plans.flatMap((p) => [usd(p.after.totalPerMillion - p.provisioned), usd(p.provisioned)]),
    ]);
    out.push(table(head, rows), '');
    if (done.length > 0) {
      out.push(
        `Also priced, with nothing left to save: the measured design no longer makes the writes they remove. ${done.map((d) => `${d}.`).join(' ')}`,
        '',
      );
    }
    const best = [...cost.plans].sort((x, y) => x.provisioned - y.provisioned)[0]!;
    out.push(
      `With every change, (a) still costs ${cost.plans.map((p) => `${usd(p.after.totalPerMillion)} (${SCENARIOS[p.scenario].split(': ')[1]})`).join(', ')} on demand, ` +
        `and ${usd(best.provisioned)} at best on provisioned capacity. What remains, for the cheapest (${SCENARIOS[best.scenario].split(': ')[1]}), on demand:`,
      '',
      lineTable(best.after.lines),
      '',
      `So ${usd(GOAL_PER_MILLION)} is out of reach for a design that stores each event, its delivery and its outcome in DynamoDB on demand: the event item alone (1 KB of data plus its keys, over 1 KB) is ${usd(2 * PRICES.dynamoWriteRequestUnit.usd * 1e6)} per million to write once, and its storage for 30 days another ${usd(storageOf(best.after, 'event'))}. ` +
        'Getting near the goal takes a different shape: the queue message carrying the event (SQS allows 256 KB) and being the only per-delivery record until something fails, events stored once per batch rather than once each, and provisioned capacity for the rest.',
      '',
    );
  }
  const floor = cheapest(res);
  if (floor) {
    out.push(
      `**The floor.** The cheapest measured case is ${floor.title}: ${usd(floor.totalPerMillion)} per million deliveries (${usd(floor.totalPerMillionAt2xDuration)} at 2× durations). ` +
        'Fan-out is cheapest because an event is stored, read and enqueued once for ten deliveries; the per-delivery work (context read, claim, attempt, result, and their index writes) is paid in full by every delivery.',
      '',
    );
  }
  return out;
}

/**
 * For each goal of the lean delivery path that the run does not meet: how far off it is, and the
 * lines that make the figure, beside the floor (what only the unavoidable requests would cost).
 */
function goalGaps(res: BenchResults): string[] {
  const out: string[] = ['### What stands between each figure and its goal', ''];
  const goals: Array<[ScenarioId, number]> = [
    ['single', GOALS.singlePostPerMillion],
    ['batch', GOALS.batchPostPerMillion],
    ['retry', GOALS.oneRetryPerMillion],
  ];
  for (const [id, goal] of goals) {
    const s = scenario(res, id);
    if (!s) continue;
    const floor = floorPerMillion(s);
    const head = `**${s.title}**: ${usd(s.totalPerMillion)} against a goal of ${usd(goal)}; the design's floor is ${usd(floor)}.`;
    if (s.totalPerMillion <= goal) {
      out.push(`${head} Met.`, '');
      continue;
    }
    const top = [...s.lines].sort((a, b) => b.usdPerMillion - a.usdPerMillion).filter((l) => l.usdPerMillion >= 0.1);
    out.push(
      `${head} ${usd(s.totalPerMillion - goal)} over; ${floor > goal ? `even the floor is ${usd(floor - goal)} over, so what stands in the way is the lines below, not DynamoDB requests above the floor` : `${usd(s.totalPerMillion - floor)} of it is DynamoDB requests above the floor`}. The lines of $0.10 or more:`,
      '',
      table(
        ['line', 'per delivery', 'per million'],
        top.map((l) => [`${l.service}: ${l.item}`, qty(l.quantity), usd(l.usdPerMillion)]),
        ['l', 'r', 'r'],
      ),
      '',
    );
  }
  const single = scenario(res, 'single');
  if (single) {
    const u = unitsPerDelivery(single);
    const f = floorUnits(single);
    out.push(
      `**Units per delivery** (single POSTs): ${u.writes.toFixed(2)} write units (goal ≤ ${GOALS.writeUnitsPerDelivery}, floor ${f.writes.toFixed(2)}) and ${u.reads.toFixed(2)} read units (goal ≤ ${GOALS.readUnitsPerDelivery}, floor ${f.reads.toFixed(2)}). Request by request (${WRITE_PARTS}): ${dynamoWriteSummary(single)} The events carry hookrelay's generated ids, which hold their accept time, so an event is one write in its app's partition (which is also the feed); with the producer's own ids (the scenario of that name) each event also claims its id, one more write. The reads above the floor are housekeeping's reconcile (the app's events and the endpoint's records over the window, queries shared by a page) and the worker's endpoint read when its cache is cold.`,
      '',
    );
  }
  return out;
}

function storageOf(r: ScenarioResult, kind: string): number {
  const s = r.storage[kind];
  if (!s) return 0;
  return ((s.table + s.index) / r.deliveries / 1e9) * (30 / (365.25 / 12)) * PRICES.dynamoStorageGbMonth.usd * 1e6;
}

function lineTable(lines: CostLine[]): string {
  const total = lines.reduce((n, l) => n + l.usdPerMillion, 0);
  return table(
    ['service', 'line', 'per delivery', 'unit', 'per million', 'share', 'how'],
    [
      ...lines.map((l) => [
        l.service,
        l.item,
        qty(l.quantity),
        l.unit,
        usd(l.usdPerMillion),
        pct(total ? l.usdPerMillion / total : 0),
        l.basis,
      ]),
      ['**total**', '', '', '', `**${usd(total)}**`, '100 %', ''],
    ],
    ['l', 'l', 'r', 'l', 'r', 'r', 'l'],
  );
}

function dynamoTable(r: ScenarioResult): string {
  const D = r.deliveries;
  const price = (n: number, p: number) => n * p * 1e6;
  // One column per index the table has (topology), so a dropped index drops its column.
  return table(
    [
      'function',
      'request',
      'what',
      'calls',
      'read units',
      'table write units',
      ...INDEXES.map((i) => `${i.name} index units`),
      'per million',
    ],
    r.dynamo.map((d) => {
      const w = INDEXES.reduce((t, i) => t + (d.indexWriteUnits[i.name] ?? 0), d.tableWriteUnits);
      const usdPerM =
        price(w / D, PRICES.dynamoWriteRequestUnit.usd) + price(d.readUnits / D, PRICES.dynamoReadRequestUnit.usd);
      return [
        d.origin,
        d.action,
        d.label,
        qty(d.calls / D),
        qty(d.readUnits / D),
        qty(d.tableWriteUnits / D),
        ...INDEXES.map((i) => qty((d.indexWriteUnits[i.name] ?? 0) / D)),
        usd(usdPerM),
      ];
    }),
    ['l', 'l', 'l', 'r', 'r', 'r', ...INDEXES.map(() => 'r' as const), 'r'],
  );
}

/** "table + <index> index units" for each request that writes, in the order of dynamoTable's columns. */
const WRITE_PARTS = ['table', ...INDEXES.map((i) => `${i.name}-index`)].join(' + ') + ' units';

function dynamoWriteSummary(r: ScenarioResult): string {
  const D = r.deliveries;
  return (
    r.dynamo
      .filter((d) => d.tableWriteUnits > 0)
      .map(
        (d) =>
          `${d.label} ${[d.tableWriteUnits, ...INDEXES.map((i) => d.indexWriteUnits[i.name] ?? 0)].map((u) => qty(u / D)).join(' + ')}`,
      )
      .join('; ') + '.'
  );
}

function compareLines(scenarios: ScenarioResult[]): string {
  const keys: string[] = [];
  for (const s of scenarios)
    for (const l of s.lines) if (!keys.includes(`${l.service}|${l.item}`)) keys.push(`${l.service}|${l.item}`);
  const get = (s: ScenarioResult, k: string) => s.lines.find((l) => `${l.service}|${l.item}` === k)?.usdPerMillion ?? 0;
  const rows = keys
    .map((k) => [k.replace('|', ': '), ...scenarios.map((s) => get(s, k))] as [string, ...number[]])
    .sort((x, y) => Math.max(...(y.slice(1) as number[])) - Math.max(...(x.slice(1) as number[])))
    .filter((r) => (r.slice(1) as number[]).some((v) => v > 0))
    .map((r) => [r[0], ...(r.slice(1) as number[]).map(usd)]);
  rows.push(['**total**', ...scenarios.map((s) => `**${usd(s.totalPerMillion)}**`)]);
  rows.push([
    `over the goal of ${usd(GOAL_PER_MILLION)}`,
    ...scenarios.map((s) => usd(s.totalPerMillion - GOAL_PER_MILLION)),
  ]);
  return table(['line', ...scenarios.map((s) => s.title.split(': ')[1] ?? s.id)], rows);
}

function isolationSection(r: IsolationResult): string[] {
  const s = r.sizes;
  const shardsOf = r.beside[0]?.shards.of ?? r.aws.shards;
  const rows = r.beside.map(
    (b) =>
      `| ${b.description}${b.sameShard ? ` (**same shard**, 1 app in ${b.shards.of})` : ''} | ${ms(b.healthy.p50Ms)} | ${ms(b.healthy.p95Ms)} | ${b.p95Ratio.toFixed(2)}x ${b.p95Ratio <= 2 ? '(met)' : '(not met)'} | ${b.neighbour.delivered} / ${b.neighbour.events} | ${b.neighbour.waiting} | ${b.neighbour.failed} | ${b.neighbour.requests} | ${pct(b.neighbour.share429)} |`,
  );
  return [
    '## Isolation: the noisy neighbour',
    '',
    `A healthy app sends ${s.healthyEvents} events, one every ${s.healthyIntervalMs} ms, alone and then ${s.healthyDelayMs} ms after another app's burst of ${s.neighbourEvents} events to a misbehaving endpoint (delivery timeout ${r.timeoutMs} ms); latency from the 202 to the webhook's first byte. Goal: p95 at most 2x alone. The neighbour's outcome is measured up to ${s.neighbourSettleMs / 1000} s after the healthy run. How it works, and why it holds on AWS: [flow-control.md](flow-control.md).`,
    '',
    `The work queue has ${shardsOf} shards, each with its own event source (the local runtime gives each its own pollers, as Lambda gives each its own slots), and an app's first attempts all go to one. Each neighbour below is an app in another shard than the healthy app's, as ${shardsOf - 1} apps in ${shardsOf} are; the last row is a hanging neighbour in the healthy app's own shard, what the other 1 in ${shardsOf} see.`,
    '',
    `Alone: p50 ${ms(r.alone.p50Ms)}, p95 ${ms(r.alone.p95Ms)}.`,
    '',
    '| neighbour | healthy p50 | healthy p95 | p95 vs alone | neighbour delivered | waiting | failed | its requests | answered 429 |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `**On AWS (a model from the event source mapping's limits):** ${r.aws.shards} work queue shards of ${r.aws.maxConcurrency} concurrent batches of ${r.aws.batchSize} each, a ${r.aws.timeoutMs / 1000} s timeout, a ${r.aws.budgetMs / 1000} s shared-lane budget. ` +
      r.aws.bursts
        .map(
          (b) =>
            `A burst of ${b.events} to a hanging endpoint holds ${b.slotsHeld} of its shard's slots: a healthy event waited up to ${ms(b.beforeWaitMs)} before (repeated ${b.repeatsBefore}); now up to ${ms(b.otherShardWaitMs)} in another shard and up to ${ms(b.sameShardWaitMs)}, once, in the same shard.`,
        )
        .join(' '),
  ];
}

function latencySection(l: LatencyResult): string[] {
  return [
    "## 2. Latency: from the 202 to the webhook's first byte",
    '',
    `${int(l.events)} single 1 KB events sent open loop at ${l.ratePerSecond} a second (each on its own schedule, so a slow moment delays those behind it instead of slowing the sender) to one endpoint on the embedded stack; for each, the time from the producer reading its 202 to the recording receiver seeing the first byte of the webhook. Every event arrived exactly once: ${l.exactlyOnce ? 'yes' : '**no**'}.`,
    '',
    table(
      ['p50', 'p95', 'p99', 'max', 'mean'],
      [[ms(l.p50Ms), ms(l.p95Ms), ms(l.p99Ms), ms(l.maxMs), ms(l.meanMs)]],
      ['r', 'r', 'r', 'r', 'r'],
    ),
    '',
    `The work is queued before the 202 is written, so a webhook can start arriving before the producer has read its 202 (${int(l.arrivedBeforeAccept)} of ${int(l.events)} here; those count as negative latencies). What this measures is the local runtime: the poller wakes the moment a message is sent (on AWS the event source mapping's long poll returns as soon as a message is there, typically within tens of milliseconds), the emulators answer in a millisecond or two, and everything shares one thread.`,
  ];
}

function throughputSection(t: ThroughputResult): string[] {
  const s = t.settings;
  const row = (r: ThroughputRun) => [
    r.label,
    int(r.accepted),
    r.exactlyOnce ? 'yes' : `**no** (missing ${r.missing}, duplicates ${r.duplicates})`,
    r.acceptedPerSecond.toFixed(1),
    `**${r.deliveredPerSecond.toFixed(1)}**`,
    `${r.drainSeconds.toFixed(1)} s`,
    pct(r.eventLoopUtilization),
  ];
  const out = [
    '## 3. Throughput: sustained deliveries per second, zero loss',
    '',
    `${s.producers} closed-loop producers each POST a batch of ${s.batchSize} 1 KB events (POST /events/batch) without ids of their own (hookrelay generates them: the default path, one write an event; an id the producer chooses adds a conditional claim write, which measured once at 20 s a leg took the ratio from 0.68 to 0.36 on this machine) and wait for its 202 before sending the next (concurrency ${s.producers}); ${s.pollers} pollers on the work queue each take batches of up to 10 (${s.pollers * 10} deliveries in flight at most). Each run sends for ${s.seconds} s, then stops and lets the backlog drain; its throughput is the accepted events divided by the time from its first send to its last webhook's arrival (the drain counts). Each system runs twice, in the order hookrelay, baseline, baseline, hookrelay, so that the machine's other load (it is shared) weighs on both alike; the figures are totals over both runs. The receiver counts every webhook by event id: zero loss means every accepted event arrived exactly once.`,
    '',
    `The **bare baseline** is the minimal pipeline, run in the same process, against the same emulators, with the same concurrency and batches: a bare \`node:http\` server that puts each event into DynamoDB (one PutItem) and sends the batch's messages (SendMessageBatch, ten a request); consumer loops that ask the queue depth (as the local poller does), receive up to 10, POST each body to the receiver and delete the batch. No validation, authentication, fan-out read, signing, outcome record, retries or middleware.`,
    '',
    table(
      [
        'system',
        'accepted',
        'exactly once',
        'accepted/s',
        'delivered/s',
        'longest drain after sending stopped',
        'event loop busy',
      ],
      [row(t.hookrelay), row(t.baseline)],
      ['l', 'r', 'l', 'r', 'r', 'r', 'r'],
    ),
    '',
    `**Ratio: ${t.ratio.toFixed(2)}** of the baseline (goal ≥ ${GOALS.ratioToBare}${t.ratio >= GOALS.ratioToBare ? ': met' : ': not met'}).`,
    '',
  ];
  if (t.hookrelay.cpu.length > 0) {
    const cats = [...new Set([...t.hookrelay.cpu, ...t.baseline.cpu].map((c) => c.category))];
    const share = (r: ThroughputRun, c: string) => r.cpu.find((x) => x.category === c)?.share ?? 0;
    const rows = cats
      .map((c) => [c, share(t.hookrelay, c), share(t.baseline, c)] as const)
      .filter(([, a, b]) => a >= 0.005 || b >= 0.005)
      .sort((x, y) => y[1] - x[1])
      .map(([c, a, b]) => [c, pct(a), pct(b)]);
    const emu = (r: ThroughputRun) =>
      r.cpu.filter((c) => /emulator|AWS SDK|Node core/.test(c.category)).reduce((n, c) => n + c.share, 0);
    out.push(
      `**Where the CPU went** (V8 sampling profiler, over one more run of each system of ${Math.min(s.seconds, 10)} s after the measured ones: the profiler's own cost, larger on deeper stacks, is kept out of the figures above; the process has one JavaScript thread, which was busy for the share of the run shown above):`,
      '',
      table(['category', 'hookrelay', 'bare baseline'], rows),
      '',
      `The emulators, the SDK clients that talk to them and Node's own HTTP and stream code take ${pct(emu(t.hookrelay))} of hookrelay's CPU and ${pct(emu(t.baseline))} of the baseline's: both runs are bound by the one thread that runs the emulators and the SDK round trips, not by hookrelay's own code (\`hookrelay functions\`). ` +
        "These rates are the embedded stack's on this machine, not AWS's: on AWS the functions scale out, and the limits are the ones in the capacity model below.",
    );
  }
  return out;
}

function coldStartSection(c: ColdStartResult): string[] {
  const at = (ref: string, b: BundleMeasure) =>
    c.compare.find((x) => x.ref === ref)?.handlers.find((x) => x.name.startsWith(`${b.name}@`));
  const cell = (m: BundleMeasure | undefined) =>
    m ? `${kb(m.bytes)}, ${ms(m.initMs)} (${m.initRatio.toFixed(2)}×)` : '';
  const row = (b: BundleMeasure) => [
    b.name,
    kb(b.bytes),
    kb(b.gzipBytes),
    kb(b.sourceMapBytes),
    ms(b.importMs),
    ms(b.initMs),
    `${b.initRatio.toFixed(2)}×`,
    ...c.compare.map((x) => cell(at(x.ref, b))),
    b.heaviest.map(([p, n]) => `${p} ${kb(n)}`).join(', '),
  ];
  const out = [
    '## 4. Cold start',
    '',
    `Each handler bundled as the stack bundles it (esbuild, minified ESM for Node 24, \`@aws-sdk/*\` external, linked source map: \`infra/constructs/bundling.ts\`), then imported by ${c.runs} fresh \`node --enable-source-maps\` processes each (the functions run with that flag), round robin; medians. *import* is the import alone; *init* is from process start to the end of the import, the local analogue of Lambda's Init Duration (it includes loading the AWS SDK from node_modules, as Lambda loads it from the runtime). The ratio is init over a hello-world handler's init, bundled and timed the same way in the same run (${ms(c.hello.initMs)}; import ${ms(c.hello.importMs)}).`,
    '',
    table(
      [
        'bundle',
        'size',
        'gzip',
        'source map',
        'import',
        'init',
        'init ÷ hello',
        ...c.compare.map((x) => `at ${x.ref}`),
        'heaviest parts',
      ],
      [...c.handlers.map(row), [...row(c.hello).slice(0, 7), ...c.compare.map(() => ''), '']],
      ['l', 'r', 'r', 'r', 'r', 'r', 'r', ...c.compare.map(() => 'l' as const), 'l'],
    ),
    '',
  ];
  if (c.compare.length > 0) {
    const mean = (xs: BundleMeasure[], f: (b: BundleMeasure) => number) => xs.reduce((n, b) => n + f(b), 0) / xs.length;
    const steps = [
      ...c.compare.map((x) => ({ name: `\`${x.ref}\` (${x.subject})`, handlers: x.handlers })),
      { name: "this run's tree", handlers: c.handlers },
    ];
    out.push(
      'The *at* columns are the same four handlers built from earlier commits, measured in this run beside the current ones. Mean bundle and init, oldest first: ' +
        steps
          .map(
            (st) => `${st.name}: ${kb(mean(st.handlers, (b) => b.bytes))}, ${ms(mean(st.handlers, (b) => b.initMs))}`,
          )
          .join(' → ') +
        '.',
      '',
    );
  }
  const z = c.zod;
  out.push(
    `**zod/mini.** The request and configuration schemas alone, used once: written with zod's classic API (\`bench/fixtures/zod-classic.ts\`, the schemas as they were at commit 54c53eb) they bundle to ${kb(z.classic.bytes)}; written with \`zod/mini\` (\`bench/fixtures/zod-mini.ts\`) to ${kb(z.mini.bytes)}: **${kb(z.classic.bytes - z.mini.bytes)} less in every bundle**, and ${ms(z.classic.importMs - z.mini.importMs)} less import time (${ms(z.classic.importMs)} vs ${ms(z.mini.importMs)}; init ${ms(z.classic.initMs)} vs ${ms(z.mini.initMs)}).`,
  );
  return out;
}

function capacitySection(res: BenchResults): string[] {
  const { current, lean } = res.capacity!;
  const i = current.input;
  const fmt = (n: number) => (n === Infinity ? 'unbounded' : int(n));
  const rows = (m: CapacityModel) => m.rows.map((r) => [r.what, r.need, r.limit, r.ok ? 'ok' : '**over**', r.note]);
  return [
    `## 5. Capacity model: ${int(i.deliveriesPerSecond)} deliveries a second on AWS`,
    '',
    `On paper, from the measured counts and durations and AWS's documented default limits. Traffic: 1 KB events, one endpoint each, ingested by batch POSTs of 100 (the \`${i.scenario}\` scenario's counts), first-try success. Receivers are assumed to answer in ${i.receiverLatencyMs} ms (the local receiver answers at once); a delivery invocation of 10 took ${ms(i.fullBatchDeliveryMs)} here (fan-out run), and a batch is in flight for that plus the receivers' time. Lambda concurrency is rate × duration (Little's law).`,
    '',
    table(['what', 'needs', 'limit', '', 'note'], rows(current), ['l', 'l', 'l', 'l', 'l']),
    '',
    `**Ceilings of the current design** (per-key DynamoDB limits, which no quota increase lifts): the open index's ${i.openShards} shards allow **${fmt(current.ceilings.openIndexDeliveriesPerSecond)} deliveries/s** in total; one app's event shards allow **${fmt(current.ceilings.feedEventsPerSecondPerApp)} events/s** for that app (32 shards); one app's partition allows **${fmt(current.ceilings.appPartitionEventsPerSecond)} events/s** of reads.`,
    '',
    `**Cost per month** at ${int(i.deliveriesPerSecond)}/s (${int(current.monthly.deliveries / 1e9)} billion deliveries in 30 days), at the first-tier prices above: **${money(current.monthly.usd)}** as measured (${usd(current.monthly.usdPerMillion)} per million); **${money(lean.monthly.usd)}** with the design changes of section 1 (${usd(lean.monthly.usdPerMillion)} per million), before volume tiers (Lambda compute, API Gateway and SQS get cheaper past their first tiers; DynamoDB does not). With the changes the limits read:`,
    '',
    table(['what', 'needs', 'limit', '', 'note'], rows(lean), ['l', 'l', 'l', 'l', 'l']),
    '',
    '**What keeps it linear, and what does not.**',
    '',
    '- Linear: the functions hold no state between invocations and scale out; SQS standard queues have no per-queue throughput limit; events, deliveries and attempts are keyed by event (`EVT#<appId>#<eventId>`), so their writes spread over as many partitions as there are events; retries are delayed messages, not timers.',
    `- Not linear, and what holds each: (1) **the open index's ${i.openShards} shards** are written only by late and long-waiting work (${qty(current.openWruPerDelivery)} units per first-try delivery), so first-try traffic never reaches them; a retry storm does (each shard takes ~1,000 writes a second: ${fmt(current.ceilings.openIndexDeliveriesPerSecond)} re-driven deliveries/s at the measured rate of index writes). (2) **EVENTS#<appId>**: one partition takes ~1,000 events/s; an app that sends more is spread over its \`eventShards\` (up to 32, merged for the feed and the reconciles), and its busy endpoints' delivery records with it (\`DLV#<appId>#<endpointId>#<n>\`): section 5b counts the busiest key of one app at ${int(i.deliveriesPerSecond)} events/s. Each delivery's record is in its event's shard whoever chose the event's id (the producer's ids too: the messages carry the shard), so one endpoint takes ~1,000 deliveries/s per shard of its app, up to ~32,000/s. (3) **APP#<appId> reads**: a container that reads one app more than 10 times a second reuses its fan-out for a second, and endpoints are cached for 5 s, so the app's partition is read about once a second per container rather than once per event. (4) Configuration, not design: the event sources' maximumConcurrency (${res.deployed.eventSources[0]?.maxConcurrency ?? '?'} per queue, which caps delivery at the rate in the table), the API stage throttle (${res.deployed.apiStageRateLimit}/s by default: batch POSTs, or raise it) and the account's Lambda concurrency (1,000 by default).`,
    `- **Hot and slow endpoints.** One endpoint's deliveries share its delivery partition (spread with its app's event shards, above), its endpoint item is cached per container, nothing limits how many POSTs one endpoint gets at once beyond its flow control (up to ${res.deployed.eventSources[0]?.maxConcurrency ?? '?'} batches × 10 per queue), and a batch lasts as long as its slowest POST: an endpoint that times out (${res.deployed.deliveryTimeoutMs / 1000} s) holds the other nine deliveries of each batch it is in.`,
    '- Housekeeping is a single scheduled invocation: it queries each open-index shard for overdue items (cheap while few are overdue; a backlog, say receivers down for an hour, puts every delayed delivery on its list, a sweep of 1,000 at a time), and reads back only the apps that sent events in its windows (their activity markers), 16 at a time: its cost grows with the active apps, not the registered ones (section 5b).',
  ];
}

const KEY_CAPACITY_START = '<!-- key-capacity: npm run bench -- --only capacity rewrites from here -->';
const KEY_CAPACITY_END = '<!-- /key-capacity -->';

/** The counted-key capacity model (section 5b), between markers a capacity-only run replaces. */
function keyCapacitySection(k: KeyCapacity): string[] {
  const load = (l: KeyLoad) => `\`${l.key}\`: ${int(l.wcuPerSecond)} WCU/s, ${int(l.rcuPerSecond)} RCU/s`;
  const verdict = (s: KeyScenario) =>
    s.busiestWrite.wcuPerSecond <= k.limits.partitionWcu && s.busiestRead.rcuPerSecond <= k.limits.partitionRcu
      ? 'ok'
      : '**over**';
  const hk = k.housekeeping;
  return [
    KEY_CAPACITY_START,
    '',
    '## 5b. Busiest keys, counted: one app at 10,000 events a second, and 1,000 apps',
    '',
    `Measured, not derived: the meter counts every DynamoDB request's write and read units by partition key (\`bench/instrument.ts\`) while each scenario runs on the embedded stack, and each key's units per event are scaled to ${int(k.scenarios[0]?.eventsPerSecond ?? 0)} events a second (\`bench/capacity-keys.ts\`). Ids are shown as roles. DynamoDB's per-partition limits: ${int(k.limits.partitionWcu)} WCU/s and ${int(k.limits.partitionRcu)} RCU/s.`,
    '',
    table(
      ['scenario', 'events measured', 'busiest key by writes', 'busiest key by reads', ''],
      k.scenarios.map((s) => [s.title, int(s.eventsMeasured), load(s.busiestWrite), load(s.busiestRead), verdict(s)]),
      ['l', 'r', 'l', 'l', 'l'],
    ),
    '',
    ...k.scenarios.flatMap((s) => [
      `**${s.id}**: the busiest keys at ${int(s.eventsPerSecond)} events/s. ${s.note}.`,
      '',
      table(
        ['key', 'WCU/s', 'RCU/s'],
        s.top.map((l) => [`\`${l.key}\``, int(l.wcuPerSecond), int(l.rcuPerSecond)]),
      ),
      '',
    ]),
    `**Housekeeping with 1,000,000 registered apps, 1 % active.** A run reads the activity markers of its window and the shards they name, never the app list: idle apps cost nothing (10 and 10,000 idle apps, the same calls: \`test/integration/housekeeping-scale.int.test.ts\`), so a run grows with the active apps. Measured: a run over ${int(hk.measured.registeredApps)} registered apps, ${int(hk.measured.activeApps)} of them with events in its windows (a recover run, which reads both reconciles' windows at once), made ${int(hk.measured.calls)} DynamoDB calls for ${qty(hk.measured.readUnits)} read units in ${hk.measured.seconds.toFixed(2)} s. Scaled to ${int(hk.millionApps.activeApps)} active apps of ${int(hk.millionApps.registeredApps)}: **${int(hk.millionApps.calls)} calls, ${int(hk.millionApps.readUnits)} read units per run**, spread over the active apps' partitions; **~${int(hk.millionApps.secondsOnDynamoDb)} s per run** on DynamoDB (8 ms a call, 16 app shards read at once), ${int(hk.millionApps.secondsOnEmulator)} s on the single-threaded emulator. A run every minute is then ~${int(hk.millionApps.readUnits / 60)} read units a second, about $${((hk.millionApps.readUnits * 60 * 24 * 30 * 0.125) / 1e6).toFixed(0)} a month at $0.125 per million.`,
    '',
    KEY_CAPACITY_END,
  ];
}

/** A document with its counted-key capacity section replaced (or added before the prices). */
export function replaceKeyCapacity(doc: string, res: BenchResults): string {
  if (!res.keyCapacity) return doc;
  const section = keyCapacitySection(res.keyCapacity).join('\n');
  const a = doc.indexOf(KEY_CAPACITY_START);
  const b = doc.indexOf(KEY_CAPACITY_END);
  if (a >= 0 && b > a) return doc.slice(0, a) + section + doc.slice(b + KEY_CAPACITY_END.length);
  const prices = doc.indexOf('## Prices used');
  return prices < 0 ? `${doc}\n${section}\n` : `${doc.slice(0, prices)}${section}\n\n${doc.slice(prices)}`;
}

function pricesSection(): string[] {
  return [
    '## Prices used',
    '',
    table(
      ['price', 'USD', 'per', 'source', 'checked'],
      Object.entries(PRICES).map(([name, p]) => [
        name,
        String(p.usd < 0.001 ? p.usd.toExponential(4) : p.usd),
        p.unit,
        p.source,
        p.checked,
      ]),
      ['l', 'r', 'l', 'l', 'l'],
    ),
  ];
}

/** A short plain-text summary for the terminal. */
export function renderConsole(res: BenchResults): string {
  const lines: string[] = [];
  for (const s of res.cost?.scenarios ?? []) {
    lines.push(
      `cost  ${s.title}: ${usd(s.totalPerMillion)}/M (2x durations ${usd(s.totalPerMillionAt2xDuration)}); exactly once ${s.exactlyOnce.ok ? 'yes' : 'NO'}; top: ${topLines(
        s,
      )
        .map((l) => `${l.item} ${usd(l.usdPerMillion)}`)
        .join(', ')}`,
    );
  }
  for (const p of res.cost?.plans ?? []) {
    lines.push(
      `cost  after design changes, ${SCENARIOS[p.scenario]}: ${usd(p.after.totalPerMillion)}/M on demand, ${usd(p.provisioned)}/M provisioned`,
    );
  }
  if (res.latency)
    lines.push(
      `latency  p50 ${ms(res.latency.p50Ms)}  p95 ${ms(res.latency.p95Ms)}  p99 ${ms(res.latency.p99Ms)}  (${res.latency.events} events)`,
    );
  if (res.isolation) {
    const r = res.isolation;
    lines.push(`isolation  alone p50 ${ms(r.alone.p50Ms)}  p95 ${ms(r.alone.p95Ms)}`);
    for (const b of r.beside)
      lines.push(
        `isolation  beside ${b.kind}${b.sameShard ? ' (same shard)' : ''}: p50 ${ms(b.healthy.p50Ms)}  p95 ${ms(b.healthy.p95Ms)} (${b.p95Ratio.toFixed(2)}x); neighbour delivered ${b.neighbour.delivered}/${b.neighbour.events}, waiting ${b.neighbour.waiting}, failed ${b.neighbour.failed}, 429s ${pct(b.neighbour.share429)} of ${b.neighbour.requests}`,
      );
  }
  if (res.throughput) {
    const t = res.throughput;
    lines.push(
      `throughput  hookrelay ${t.hookrelay.deliveredPerSecond.toFixed(1)}/s  baseline ${t.baseline.deliveredPerSecond.toFixed(1)}/s  ratio ${t.ratio.toFixed(2)}  (exactly once: ${t.hookrelay.exactlyOnce && t.baseline.exactlyOnce ? 'yes' : 'NO'})`,
    );
  }
  if (res.ordering) {
    const o = res.ordering;
    lines.push(
      `ordering  ${o.keys} keys x ${o.events / o.keys}: ${o.deliveriesPerSecond.toFixed(1)}/s, per-key latency p50 ${ms(o.latencyMs.p50)} p95 ${ms(o.latencyMs.p95)}, ` +
        `${o.writeUnitsPerDelivery} WCU + ${o.readUnitsPerDelivery} RCU + ${o.sqsRequestsPerDelivery} SQS FIFO requests a delivery ($${o.storageAndQueuesPerMillion}/M), in order; ` +
        `unordered same run ${o.unordered.deliveriesPerSecond}/s, p50 ${ms(o.unordered.latencyMs.p50)} (load ${o.loadAverage})`,
    );
  }
  for (const b of res.coldStart?.handlers ?? [])
    lines.push(`cold start  ${b.name}: ${kb(b.bytes)}, init ${ms(b.initMs)} (${b.initRatio.toFixed(2)}x hello)`);
  if (res.coldStart)
    lines.push(`zod/mini would save ${kb(res.coldStart.zod.classic.bytes - res.coldStart.zod.mini.bytes)} per bundle`);
  return lines.join('\n');
}

function orderingSection(o: NonNullable<BenchResults['ordering']>): string[] {
  return [
    '## Ordered delivery',
    '',
    `One strict endpoint, ${o.keys} ordering keys, ${o.events / o.keys} events per key, each key's events sent one after the other (each answered 202 before the next), all keys at once; the receiver answers 200 at once. Every key's events arrived in accept order, each once (\`bench/ordering.ts\` checks it). See [ordering.md](ordering.md).`,
    '',
    '| figure | value |',
    '|---|---|',
    `| deliveries/s across ${o.keys} keys | ${o.deliveriesPerSecond} |`,
    `| per-key latency, 202 to arrival: p50 / p95 / max | ${o.latencyMs.p50} / ${o.latencyMs.p95} / ${o.latencyMs.max} ms |`,
    `| DynamoDB write units a delivery | ${o.writeUnitsPerDelivery} |`,
    `| DynamoDB read units a delivery | ${o.readUnitsPerDelivery} |`,
    `| SQS FIFO requests a delivery | ${o.sqsRequestsPerDelivery} (at $${o.fifoPricePerMillionRequests} per million, against $0.40 for standard queues) |`,
    `| Lambda invocations a delivery | ${o.lambdaInvocationsPerDelivery} |`,
    `| DynamoDB and SQS per million deliveries | $${o.storageAndQueuesPerMillion} |`,
    '',
    `The same run on an unordered endpoint right after (same keys and sending, machine load average ${o.loadAverage} on its 2 cores): ${o.unordered.deliveriesPerSecond} deliveries/s, latency p50 / p95 ${o.unordered.latencyMs.p50} / ${o.unordered.latencyMs.p95} ms, ${o.unordered.writeUnitsPerDelivery} write and ${o.unordered.readUnitsPerDelivery} read units and ${o.unordered.sqsRequestsPerDelivery} SQS requests a delivery.`,
  ];
}
