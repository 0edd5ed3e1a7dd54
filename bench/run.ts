/**
 * `npm run bench`: cost, latency, throughput and cold start, measured on the embedded stack, then
 * printed and written to docs/performance.md.
 *
 *   npm run bench                       the full run (~10 minutes)
 *   npm run bench -- --quick            the CI-sized run (~2 minutes)
 *   npm run bench -- --only cost,cold-start
 *   npm run bench -- --compare <ref>[,<ref>...]   cold start: also build the handlers of these commits
 *   npm run bench -- --out <file>       write the report there (default docs/performance.md; the
 *                                       figures go beside it as .json: docs/performance.json)
 *   npm run bench -- --no-write         print only
 *   npm run bench -- --render <results.json>   re-render a saved run (derived figures recomputed)
 *
 * Only 127.0.0.1 is ever sent traffic: the stack, the emulators and the receiver all listen there.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../infra/constructs/bundling';
import { topology } from '../infra/topology';
import { capacityModel } from './capacity';
import { runKeyCapacity } from './capacity-keys';
import { runColdStart } from './cold-start';
import { runScenario, SCENARIOS, type ScenarioId, type ScenarioResult } from './cost';
import { readDeployedConfig, type DeployedConfig } from './deployed';
import { applyChanges, DESIGN_CHANGES, gbSecondsPerRecord, PROVISIONED } from './design-changes';
import { figuresJson } from './figures';
import { startHarness } from './harness';
import { runLatency } from './latency';
import { runIsolation, type IsolationSizes } from './isolation';
import { renderConsole, renderMarkdown, replaceKeyCapacity, type BenchResults, type ChangePlan } from './report';
import { runThroughput } from './throughput';
import { runOrdering } from './ordering';

// The SDK's notice that Node 20 support ends: a fact about this machine, not a finding.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

export const PARTS = ['cost', 'latency', 'isolation', 'throughput', 'cold-start', 'capacity', 'ordering'] as const;
/** Events per POST /events/batch in the throughput run (the issue: it ingests with batch POSTs). */
const THROUGHPUT_BATCH = 20;
export type Part = (typeof PARTS)[number];

export interface BenchSizes {
  /** Deliveries per cost scenario (the retry scenario uses half: each takes two attempts). */
  costDeliveries: number;
  latencyEvents: number;
  latencyRatePerSecond: number;
  throughputSeconds: number;
  throughputProducers: number;
  throughputPollers: number;
  coldStartRuns: number;
  isolation: IsolationSizes;
  /** The ordering part: keys of one strict endpoint, events per key (each key's sent one after the other). */
  orderingKeys: number;
  orderingEventsPerKey: number;
  /** Events per scenario of the counted-key capacity model, and the apps its housekeeping run registers (1 % active). */
  capacityEvents: number;
  capacityRegisteredApps: number;
}

export const SIZES: Record<'full' | 'quick', BenchSizes> = {
  full: {
    costDeliveries: 1000,
    latencyEvents: 1000,
    latencyRatePerSecond: 20,
    throughputSeconds: 60,
    throughputProducers: 16,
    throughputPollers: 4,
    coldStartRuns: 15,
    isolation: {
      healthyEvents: 30,
      healthyIntervalMs: 100,
      neighbourEvents: 60,
      healthyDelayMs: 500,
      neighbourSettleMs: 30_000,
    },
    orderingKeys: 100,
    orderingEventsPerKey: 10,
    capacityEvents: 1000,
    capacityRegisteredApps: 10_000,
  },
  quick: {
    costDeliveries: 200,
    latencyEvents: 200,
    latencyRatePerSecond: 20,
    throughputSeconds: 10,
    throughputProducers: 16,
    throughputPollers: 4,
    coldStartRuns: 5,
    isolation: {
      healthyEvents: 20,
      healthyIntervalMs: 100,
      neighbourEvents: 40,
      healthyDelayMs: 500,
      neighbourSettleMs: 15_000,
    },
    orderingKeys: 100,
    orderingEventsPerKey: 3,
    capacityEvents: 200,
    capacityRegisteredApps: 1000,
  },
};

/** The harness settings of the cost runs: what the functions log and emit on AWS, one invocation at a time. */
const COST_ENV = {
  POWERTOOLS_LOG_LEVEL: 'INFO',
  POWERTOOLS_METRICS_DISABLED: 'false',
  // Any first retry delay up to 900 s is billed the same (one delayed message); 1 s keeps the run short.
  HOOKRELAY_RETRY_SCHEDULE: '1',
};

export async function runCost(
  sizes: Pick<BenchSizes, 'costDeliveries'>,
  deployed: DeployedConfig,
  runId: string,
  ids: ScenarioId[] = Object.keys(SCENARIOS) as ScenarioId[],
) {
  const h = await startHarness({ env: COST_ENV, captureLogs: true, oneInvocationAtATime: true });
  const scenarios: ScenarioResult[] = [];
  try {
    for (const id of ids) {
      const n = id === 'retry' ? Math.max(10, Math.floor(sizes.costDeliveries / 2)) : sizes.costDeliveries;
      scenarios.push(await runScenario(h, id, n, deployed, runId));
    }
  } finally {
    await h.stop();
  }
  return scenarios;
}

/**
 * What is computed from the measurements rather than measured: the design changes priced on
 * the (a) scenarios, and the capacity model. Kept apart so that a saved run can be re-rendered
 * (`--render`) with the current model.
 */
export function derive(res: BenchResults, scenarios: ScenarioResult[] | undefined): BenchResults {
  if (!scenarios) return res;
  const fanout = scenarios.find((s) => s.id === 'fanout');
  const ctx = { deliveryGbSecondsPerRecordFullBatch: fanout ? gbSecondsPerRecord(fanout) : undefined };
  const plans: ChangePlan[] = scenarios
    .filter((s) => s.id === 'single' || s.id === 'batch' || s.id === 'putevents')
    .map((s) => {
      const { steps, result } = applyChanges(s, DESIGN_CHANGES, ctx);
      const provisioned = applyChanges(result, [PROVISIONED], ctx).result.totalPerMillion;
      return { scenario: s.id, before: s.totalPerMillion, steps, after: result, provisioned };
    });
  res.cost = { scenarios, plans, changes: DESIGN_CHANGES, provisioned: PROVISIONED };
  const batch = scenarios.find((s) => s.id === 'batch');
  const plan = plans.find((p) => p.scenario === 'batch');
  if (batch && fanout && plan) {
    const common = {
      deliveriesPerSecond: 10_000,
      receiverLatencyMs: 200,
      fullBatchDeliveryMs: fanout.functions.delivery.meanMs,
      deployed: res.deployed,
      openShards: topology.table.openShards,
    };
    res.capacity = {
      current: capacityModel({ ...common, scenario: batch }),
      lean: capacityModel({ ...common, scenario: plan.after }),
    };
  }
  return res;
}

type PartResult = Pick<
  BenchResults,
  'latency' | 'isolation' | 'throughput' | 'coldStart' | 'keyCapacity' | 'ordering'
> & {
  costScenarios?: ScenarioResult[];
};

/** Runs one part in this process. */
export async function runPart(part: Part, sizes: BenchSizes, runId: string, compareRef?: string): Promise<PartResult> {
  switch (part) {
    case 'cost':
      return { costScenarios: await runCost(sizes, readDeployedConfig(), runId) };
    case 'latency': {
      // The functions' output is counted and dropped: it is not what is measured here.
      const h = await startHarness({ captureLogs: true });
      try {
        return { latency: await runLatency(h, sizes.latencyEvents, sizes.latencyRatePerSecond, runId) };
      } finally {
        await h.stop();
      }
    }
    case 'isolation': {
      // The delivery timeout as deployed (10 s): the hanging neighbour holds what it holds that long.
      const h = await startHarness({ captureLogs: true, countRequests: false });
      try {
        return { isolation: await runIsolation(h, sizes.isolation, runId, 10_000) };
      } finally {
        await h.stop();
      }
    }
    case 'throughput':
      return {
        throughput: await runThroughput(
          {
            seconds: sizes.throughputSeconds,
            producers: sizes.throughputProducers,
            pollers: sizes.throughputPollers,
            batchSize: THROUGHPUT_BATCH,
            profile: true,
            profileDir: process.env.HOOKRELAY_BENCH_PROFILE_DIR,
          },
          runId,
        ),
      };
    case 'ordering':
      return {
        ordering: await runOrdering({
          keys: sizes.orderingKeys,
          eventsPerKey: sizes.orderingEventsPerKey,
          pollers: sizes.throughputPollers,
        }),
      };
    case 'capacity':
      return {
        keyCapacity: await runKeyCapacity({
          events: sizes.capacityEvents,
          hkRegistered: sizes.capacityRegisteredApps,
        }),
      };
    case 'cold-start':
      return {
        coldStart: await runColdStart({
          runs: sizes.coldStartRuns,
          compareRefs: compareRef?.split(',').filter((r) => r !== ''),
        }),
      };
  }
}

/**
 * Runs one part in a fresh Node process (the same tsx loader): the functions' modules read the
 * environment once, when they load, so each part gets the settings it asks for, and no part
 * inherits another's heap, sockets or timers.
 */
function runPartIsolated(part: Part, mode: 'full' | 'quick', runId: string, compareRef?: string): Promise<PartResult> {
  // The child takes its sizes from the mode: only the in-process (test) path overrides them.
  const cache = path.join(REPO_ROOT, 'node_modules', '.cache', 'hookrelay-bench');
  mkdirSync(cache, { recursive: true });
  const file = path.join(cache, `part-${part}-${runId}.json`);
  const args = [
    ...process.execArgv,
    fileURLToPath(import.meta.url),
    '--part',
    part,
    '--result',
    file,
    '--run-id',
    runId,
  ];
  if (mode === 'quick') args.push('--quick');
  if (compareRef) args.push('--compare', compareRef);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench part ${part} failed (exit ${code})`));
      const result = JSON.parse(readFileSync(file, 'utf8')) as PartResult;
      rmSync(file, { force: true });
      resolve(result);
    });
  });
}

export async function runBench(opts: {
  mode: 'full' | 'quick';
  /** Smaller than the mode's (tests); only without `isolate`. */
  sizes?: Partial<BenchSizes>;
  parts: readonly Part[];
  compareRef?: string;
  /** Each part in a fresh process (the CLI); in this process otherwise (tests). */
  isolate?: boolean;
  log?: (s: string) => void;
}): Promise<BenchResults> {
  if (opts.isolate && opts.sizes) throw new Error('sizes can only be overridden in this process (isolate: false)');
  const sizes = { ...SIZES[opts.mode], ...opts.sizes };
  const log = opts.log ?? (() => {});
  const runId = Date.now().toString(36);
  const deployed = readDeployedConfig();
  const res: BenchResults = {
    meta: {
      date: new Date().toISOString().slice(0, 10),
      mode: opts.mode,
      commit: gitCommit(),
      node: process.versions.node,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU',
      loadAverage: os.loadavg() as [number, number, number],
      sizes: {
        costDeliveries: sizes.costDeliveries,
        latencyEvents: sizes.latencyEvents,
        throughputSeconds: sizes.throughputSeconds,
        coldStartRuns: sizes.coldStartRuns,
      },
    },
    deployed,
  };
  const what: Record<Part, string> = {
    cost: `${Object.keys(SCENARIOS).length} scenarios of ${sizes.costDeliveries} deliveries`,
    latency: `${sizes.latencyEvents} events at ${sizes.latencyRatePerSecond}/s`,
    isolation: `a healthy app alone and beside 4 misbehaving neighbours of ${sizes.isolation.neighbourEvents} events`,
    throughput: `hookrelay, bare baseline, bare baseline, hookrelay, ${sizes.throughputSeconds} s each, batches of ${THROUGHPUT_BATCH}`,
    'cold-start': `${sizes.coldStartRuns} fresh processes per bundle`,
    ordering: `${sizes.orderingKeys} keys of one strict endpoint, ${sizes.orderingEventsPerKey} events each`,
    capacity: `one app and 1,000 Zipf apps, ${sizes.capacityEvents} events each; housekeeping over ${sizes.capacityRegisteredApps} apps`,
  };
  let scenarios: ScenarioResult[] | undefined;
  for (const part of PARTS.filter((p) => opts.parts.includes(p))) {
    log(`${part}: ${what[part]}...`);
    const { costScenarios, ...out } = opts.isolate
      ? await runPartIsolated(part, opts.mode, runId, opts.compareRef)
      : await runPart(part, sizes, runId, opts.compareRef);
    scenarios ??= costScenarios;
    Object.assign(res, out);
  }
  return derive(res, scenarios);
}

/** docs/performance.json beside docs/performance.md (the figures the issue names, as data). */
const jsonPathOf = (mdPath: string) => mdPath.replace(/\.md$/, '') + '.json';

function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'functions', 'infra'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${sha} + uncommitted changes in functions/ or infra/` : sha;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      compare: { type: 'string' },
      out: { type: 'string', default: path.join(REPO_ROOT, 'docs', 'performance.md') },
      'no-write': { type: 'boolean', default: false },
      // Re-render a saved run (node_modules/.cache/hookrelay-bench/results.json) with the current model.
      render: { type: 'string' },
      // Internal: run one part and write its results to a file (see runPartIsolated).
      part: { type: 'string' },
      result: { type: 'string' },
      'run-id': { type: 'string' },
    },
  });
  const mode = values.quick ? 'quick' : 'full';
  if (values.part !== undefined) {
    const out = await runPart(
      values.part as Part,
      SIZES[mode],
      values['run-id'] ?? Date.now().toString(36),
      values.compare,
    );
    writeFileSync(values.result ?? '/dev/stdout', JSON.stringify(out));
    return;
  }
  if (values.render !== undefined) {
    const saved = JSON.parse(readFileSync(values.render, 'utf8')) as BenchResults;
    const res = derive({ ...saved, deployed: readDeployedConfig() }, saved.cost?.scenarios);
    console.log(renderConsole(res));
    if (!values['no-write']) {
      writeFileSync(values.out, renderMarkdown(res));
      writeFileSync(jsonPathOf(values.out), `${JSON.stringify(figuresJson(res), null, 2)}\n`);
    }
    return;
  }
  const parts = values.only ? (values.only.split(',').map((p) => p.trim()) as Part[]) : PARTS;
  const unknown = parts.filter((p) => !PARTS.includes(p));
  if (unknown.length > 0) throw new Error(`unknown part(s): ${unknown.join(', ')}; choose from ${PARTS.join(', ')}`);
  const started = Date.now();
  const res = await runBench({
    mode,
    parts,
    compareRef: values.compare,
    isolate: true,
    log: (s) => console.error(`[bench] ${s}`),
  });
  console.log(renderConsole(res));
  const cache = path.join(REPO_ROOT, 'node_modules', '.cache', 'hookrelay-bench');
  mkdirSync(cache, { recursive: true });
  writeFileSync(path.join(cache, 'results.json'), JSON.stringify(res, null, 2));
  if (!values['no-write'] && parts.length === 1 && parts[0] === 'capacity') {
    // Only the counted-key capacity model: its section and its figures replace theirs in the
    // documents of the last full run, which keep everything else.
    writeFileSync(values.out, replaceKeyCapacity(readFileSync(values.out, 'utf8'), res));
    const json = JSON.parse(readFileSync(jsonPathOf(values.out), 'utf8')) as Record<string, unknown>;
    json.capacity = figuresJson(res).capacity;
    writeFileSync(jsonPathOf(values.out), `${JSON.stringify(json, null, 2)}\n`);
  } else if (!values['no-write'] && parts.length === 1 && parts[0] === 'isolation') {
    // Only the noisy neighbour: its section and figures replace theirs in the last full run's documents.
    const md = readFileSync(values.out, 'utf8');
    const section = renderMarkdown(res);
    const own = section.slice(section.indexOf('## Isolation: the noisy neighbour'));
    const ownSection = own.slice(0, own.indexOf('\n## ') === -1 ? undefined : own.indexOf('\n## ') + 1);
    const at = md.indexOf('## Isolation: the noisy neighbour');
    const rest = at === -1 ? '' : md.slice(at + 1);
    const next = rest.indexOf('\n## ');
    writeFileSync(
      values.out,
      at === -1
        ? `${md.trimEnd()}\n\n${ownSection.trimEnd()}\n`
        : `${md.slice(0, at)}${ownSection.trimEnd()}\n${next === -1 ? '' : rest.slice(next)}`,
    );
    const json = JSON.parse(readFileSync(jsonPathOf(values.out), 'utf8')) as Record<string, unknown>;
    json.isolation = figuresJson(res).isolation;
    writeFileSync(jsonPathOf(values.out), `${JSON.stringify(json, null, 2)}\n`);
  } else if (!values['no-write']) {
    writeFileSync(values.out, renderMarkdown(res));
    writeFileSync(jsonPathOf(values.out), `${JSON.stringify(figuresJson(res), null, 2)}\n`);
    console.error(
      `[bench] wrote ${path.relative(process.cwd(), values.out)} in ${Math.round((Date.now() - started) / 1000)} s`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
