/**
 * Property-based fuzzing of every API route, in process: generated requests (hostile paths,
 * query strings, headers and bodies; the admin key, an app key, no key and garbage keys) become
 * API Gateway v2 events for the real api handler, running against the embedded stack's emulators.
 *
 * The property, for every request: never a 5xx; every non-2xx in exactly the contract's error
 * shape with no stack trace; a 2xx only for a caller allowed to have it; no secret in an answer
 * that is not meant to hand it out. And no request pollutes Object.prototype.
 *
 * FUZZ_RUNS_PER_ROUTE changes the number of cases (default 480 a route); FUZZ_SEED replays a run.
 */
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { APIGatewayProxyResultV2 } from 'aws-lambda';
import { invoke, type Handlers } from '../../infra/local/lambda';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { apiHandler, servedRoutes } from '../helpers/api-handler';
import { RecordingReceiver } from '../helpers/receiver';
import { answerProblem, createFixture, describeRequest, restore } from './fixture';
import { bind, fuzzRequest, toApiEvent, type Fixture } from './requests';

const RUNS_PER_ROUTE = Number(process.env.FUZZ_RUNS_PER_ROUTE ?? 480);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

let stack: LocalStack;
let receiver: RecordingReceiver;
let fixture: Fixture;
let handler: Handlers['api'];
let closeHandler: (() => Promise<void>) | undefined;
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  receiver = await new RecordingReceiver().start();
  stack = await startLocalStack({ port: 0, quiet: true, housekeeping: false });
  // Loaded after the stack has set the environment, like the stack loads it (the same module).
  ({ handler, close: closeHandler } = await apiHandler());
  fixture = await createFixture(stack, receiver);
});

afterAll(async () => {
  await closeHandler?.();
  await stack?.stop();
  await receiver?.stop();
});

/** The property's own message (the request, described briefly), not fast-check's dump of it. */
function failure(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function asStructured(result: APIGatewayProxyResultV2): { status: number; body: string } {
  if (typeof result === 'string' || result.statusCode === undefined)
    throw new Error(`unstructured result: ${JSON.stringify(result)}`);
  return { status: result.statusCode, body: result.body ?? '' };
}

// One test per route of the table, read at collection time (the module builds its services lazily).
const table = await servedRoutes();

describe('every API route under generated requests', () => {
  it('has routes to fuzz', () => {
    expect(table.length).toBeGreaterThanOrEqual(19);
  });

  for (const route of table) {
    it(`${route.method} ${route.path}: no 5xx, the contract's error shape, no answer to a caller who may not have one`, async () => {
      const statuses = new Map<number, number>();
      const out = await fc.check(
        fc.asyncProperty(fuzzRequest([{ method: route.method, path: route.path }]), async (generated) => {
          const r = bind(generated, fixture);
          const result = asStructured(await invoke('api', handler, toApiEvent(r, randomBytes(10).toString('base64'))));
          statuses.set(result.status, (statuses.get(result.status) ?? 0) + 1);
          const problem = answerProblem(fixture, table, r, result.status, result.body);
          if (problem !== undefined) throw new Error(`${problem}\n  request: ${describeRequest(r)}`);
          await restore(stack, fixture, table, r, result.status);
        }),
        { numRuns: RUNS_PER_ROUTE, seed: SEED, endOnFailure: true },
      );
      if (out.failed) throw new Error(`${failure(out.errorInstance)} (replay: FUZZ_SEED=${out.seed})`);
      // The generators reach past validation: some requests of every route succeed, some fail.
      const codes = [...statuses.keys()];
      expect(
        codes.some((s) => s < 300),
        `statuses seen: ${JSON.stringify([...statuses])}`,
      ).toBe(true);
      expect(codes.some((s) => s >= 400)).toBe(true);
      expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  }
});
