/**
 * docs/performance.md's "Throughput: where the time goes": what profiling the throughput run
 * found and what each change bought (measured once, at the commits named), beside this run's own
 * CPU time per delivery. Rendered by report.ts after the throughput section.
 */
import type { ThroughputResult } from './throughput';

const ms = (x: number) => `${x.toFixed(2)} ms`;

/** `table` is report.ts's (passed in, so that this module does not import the report back). */
export function throughputFindings(
  t: ThroughputResult,
  table: (head: string[], rows: string[][], align?: Array<'l' | 'r'>) => string,
): string[] {
  const h = t.hookrelay.cpuMsPerDelivery;
  const b = t.baseline.cpuMsPerDelivery;
  const now =
    h !== undefined && b !== undefined
      ? [
          `In this run the process spent **${ms(h)} of CPU per delivery** for hookrelay and ${ms(b)} for the baseline (CPU ratio ${(b / h).toFixed(2)}): on a shared machine the CPU time per delivery moves far less than deliveries per second, which follow how much of a core the process was given.`,
          '',
        ]
      : [];
  return [
    '### Throughput: where the time goes',
    '',
    ...now,
    "Everything in this benchmark runs on one JavaScript thread, so throughput is the inverse of the CPU each delivery costs. Profiling the run (the raw V8 profiles: `HOOKRELAY_BENCH_PROFILE_DIR=<dir> npm run bench -- --only throughput`) found two costs of the local stack's, one of hookrelay's and one of the benchmark's own, which together took more than half the thread; each was cut without removing any work hookrelay does or any guarantee it keeps:",
    '',
    table(
      ['what', 'cost before', 'after', 'where'],
      [
        [
          "dynalite's PEG parser re-parsed the delivery outcome's nested ConditionExpression on every UpdateItem (it backtracks without memoizing)",
          '1.4 ms a delivery (a quarter of the CPU), and 0.1 ms more for its UpdateExpression',
          'parsed once per expression, names and value types; each request gets the tree bound to its own values, errors answered as dynalite answers them',
          '`infra/local/dynalite-expressions.ts` (the emulator: DynamoDB itself has no such cost)',
        ],
        [
          'brotli at quality 9 for stored event data',
          '1.6 ms an event (a fifth of the CPU; Lambda time on AWS too)',
          'quality 5: 0.08 ms, within a byte (559 B against 558 B of a realistic 1 KB payload)',
          '`functions/intake/dynamo-event-store.ts`',
        ],
        [
          "each of the functions' AWS calls took a second HTTP hop through the local AWS endpoint, which records nothing when the sources run in this process",
          '2.3 extra requests a delivery (about 0.2 ms each)',
          'handed to the emulator in this process on the same connection; faults cut those requests too',
          '`infra/local/aws-calls.ts`, `infra/local/emulators.ts`',
        ],
        [
          'the sampling profiler ran during the measured runs',
          'about a tenth off the ratio (its cost grows with stack depth: middleware, SDK, handlers)',
          'the figures come from unprofiled runs; the breakdown above from one shorter profiled run of each',
          '`bench/throughput.ts`',
        ],
      ],
      ['l', 'l', 'l', 'l'],
    ),
    '',
    'Measured with the quick run (10 s legs), the old tree and the new in turn, on this 2-core machine shared with two other engineers: before (at `c866a0b`, load averages 3.7 to 7) ratio 0.19, 0.19 and 0.19, hookrelay 5.4 to 9.3 ms of CPU per delivery against the baseline’s 0.9 to 1.7; after (at `43e972a`, with the write path of that commit, load averages 2.6 and 4.6) ratio 0.54 and 0.46, hookrelay 2.8 and 2.3 ms against 1.5 and 1.0 (CPU ratio 0.54 and 0.46).',
    '',
    "What is left is mostly requests. A first-try delivery makes about 2.5 SDK calls here (the event's conditional PutItem, the outcome's UpdateItem, SQS's send, receive and delete shared ten ways, the app's read shared by the batch) where the baseline makes about 1.4, and each SDK round trip costs 0.7 to 1 ms of this thread (the SDK's middleware and signing, Node's HTTP at both ends, the emulator). The outcome write is the design's floor: with only the unavoidable requests the ratio would be about baseline / (baseline + one UpdateItem), 1.5 / 2.4 ≈ 0.6. The remaining 0.5 to 0.8 ms is hookrelay's own handler work, spread thin (no single item above 2 % of the thread): HMAC signing in JavaScript (`standardwebhooks` uses `fast-sha256`, not `node:crypto`), each batch event validated twice (the batch schema, then the event schema), the DocumentClient marshalling larger items, middy and Powertools per invocation.",
    '',
    '`npm start` runs the bundles instead, each function in a worker thread whose AWS calls the main thread records (for the IAM test) and forwards to the emulators over HTTP; this benchmark runs the sources in one process (the meter needs them there), so those hops are not in its figures.',
  ];
}
