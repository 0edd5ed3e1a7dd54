/**
 * Where the CPU goes during a run: V8's sampling profiler (node:inspector) on this process, each
 * sample's time given to the package or folder of the function it landed in. Everything (the
 * emulators, the runtime, the handlers, the load generator and the receiver) shares this one
 * thread, so the shares say what a run is spending its single core on.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export interface CpuShare {
  category: string;
  ms: number;
  share: number;
}

interface ProfileNode {
  id: number;
  callFrame: { url: string; functionName: string };
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

const DYNALITE =
  /\/node_modules\/(dynalite|async|big\.js|buffer-crc32|lazy|level|lock|memory-level|abstract-level|level-[a-z-]+|module-error|functional-red-black-tree|maybe-combine-errors|queue-microtask|once|wrappy)\//;

export function categorize(url: string, functionName: string): string {
  if (functionName === '(idle)') return 'idle (waiting for I/O or timers)';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (functionName === '(program)' || functionName === '(root)') return 'V8 and Node internals (program)';
  if (DYNALITE.test(url)) return 'DynamoDB emulator (dynalite, in-memory LevelDB)';
  if (/\/node_modules\/(local-aws-sqs|aws-query-decoder|aws-md5-of-message-attributes)\//.test(url))
    return 'SQS emulator (local-aws-sqs)';
  if (/\/node_modules\/(@aws-sdk|@smithy|@aws-crypto|fast-xml-parser|bowser|tslib|strnum|uuid)\//.test(url))
    return 'AWS SDK clients';
  if (url.includes('/node_modules/undici/')) return 'undici (HTTP client)';
  if (url.includes('/node_modules/zod/')) return 'zod (validation)';
  if (/\/node_modules\/(@middy|@aws-lambda-powertools|standardwebhooks|@stablelib|fast-sha256)\//.test(url))
    return 'middy, Powertools, signing';
  if (url.includes('/functions/')) return 'hookrelay functions';
  if (url.includes('/infra/local/')) return 'local runtime (API shim, pollers, PutEvents)';
  if (url.includes('/test/helpers/') || url.includes('/bench/')) return 'load generator, receiver, baseline loop';
  if (url.startsWith('node:') || url === '') return 'Node core (http, net, streams, crypto) and V8 built-ins';
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  return pkg ? `other package: ${pkg}` : 'other';
}

/** Runs `fn` under the sampling profiler and returns its result and the CPU time by category. */
export async function profiled<T>(fn: () => Promise<T>, saveAs?: string): Promise<{ result: T; cpu: CpuShare[] }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  let profile: Profile;
  let result: T;
  try {
    result = await fn();
  } finally {
    ({ profile } = (await session.post('Profiler.stop')) as { profile: Profile });
    await session.post('Profiler.disable');
    session.disconnect();
  }
  if (saveAs) writeFileSync(saveAs, JSON.stringify(profile));
  return { result, cpu: breakdown(profile) };
}

export function breakdown(profile: Profile): CpuShare[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const node = byId.get(samples[i]!);
    if (!node) continue;
    const category = categorize(node.callFrame.url, node.callFrame.functionName);
    totals.set(category, (totals.get(category) ?? 0) + (deltas[i] ?? 0) / 1000);
  }
  const all = [...totals.values()].reduce((a, b) => a + b, 0) || 1;
  return [...totals].map(([category, ms]) => ({ category, ms, share: ms / all })).sort((a, b) => b.ms - a.ms);
}
