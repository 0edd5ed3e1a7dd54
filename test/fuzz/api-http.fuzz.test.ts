/**
 * The API fuzz property again, over real HTTP to the embedded stack: the local API Gateway shim,
 * node's HTTP parser and the handler together. Fewer cases than in process (a socket each), drawn
 * from every route; the requests are made sendable first (a valid request target, latin-1 header
 * values), so what is exercised here is everything between the socket and the handler.
 *
 * FUZZ_HTTP_RUNS changes the number of cases (default 500); FUZZ_SEED replays a run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { servedRoutes } from '../helpers/api-handler';
import { RecordingReceiver } from '../helpers/receiver';
import { answerProblem, createFixture, describeRequest, restore } from './fixture';
import { bind, forTheWire, fuzzRequest, sendHttp, type Fixture } from './requests';

const RUNS = Number(process.env.FUZZ_HTTP_RUNS ?? 500);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

let stack: LocalStack;
let receiver: RecordingReceiver;
let fixture: Fixture;

beforeAll(async () => {
  receiver = await new RecordingReceiver().start();
  stack = await startLocalStack({ port: 0, quiet: true, housekeeping: false });
  fixture = await createFixture(stack, receiver);
});

afterAll(async () => {
  await stack?.stop();
  await receiver?.stop();
});

const routes = await servedRoutes();
const table = routes.map((r) => ({ method: r.method, path: r.path }));

describe('the API over HTTP under generated requests', () => {
  it(`answers ${RUNS} requests to every route without a 5xx, in the contract's shape, with JSON content`, async () => {
    const statuses = new Map<number, number>();
    const out = await fc.check(
      fc.asyncProperty(fuzzRequest(table), async (generated) => {
        const r = forTheWire(bind(generated, fixture));
        const res = await sendHttp(stack.apiUrl, r);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const problem =
          answerProblem(fixture, table, r, res.status, res.body) ??
          (res.status !== 204 &&
          r.method !== 'HEAD' &&
          !String(res.headers['content-type']).startsWith('application/json')
            ? `a ${res.status} with content-type ${String(res.headers['content-type'])}`
            : undefined);
        if (problem !== undefined) throw new Error(`${problem}\n  request: ${describeRequest(r)}`);
        await restore(stack, fixture, table, r, res.status);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    if (out.failed) {
      const err = out.errorInstance;
      throw new Error(`${err instanceof Error ? err.message : String(err)} (replay: FUZZ_SEED=${out.seed})`);
    }
    const codes = [...statuses.keys()];
    expect(
      codes.some((s) => s < 300),
      `statuses seen: ${JSON.stringify([...statuses])}`,
    ).toBe(true);
    expect(codes.filter((s) => s >= 400).length).toBeGreaterThanOrEqual(4);
  });
});
