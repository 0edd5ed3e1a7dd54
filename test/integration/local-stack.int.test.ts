import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { ScheduledEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { dynamoClient } from '../../infra/local/provision';
import { ConfigError, type LocalStack } from '../../infra/local/stack';
import { recorder, startFakeStack, waitFor } from '../helpers/local-stack';

const stacks: LocalStack[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
async function track(p: Promise<LocalStack>): Promise<LocalStack> {
  const s = await p;
  stacks.push(s);
  return s;
}
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hookrelay-stack-'));
  dirs.push(d);
  return d;
}
const refused = (url: string) =>
  fetch(url).then(
    () => false,
    () => true,
  );

describe('local stack', () => {
  it('gives the handlers the wiring environment, read when they run', async () => {
    let seen: NodeJS.ProcessEnv = {};
    const stack = await track(
      startFakeStack({
        env: { HOOKRELAY_RETRY_SCHEDULE: '1,2' },
        handlers: {
          api: async () => {
            seen = { ...process.env };
            return { statusCode: 200 };
          },
        },
      }),
    );

    await fetch(`${stack.apiUrl}/anything`);

    // The template's environment, resolved to the local resources, with the operator's overrides.
    const endpoint = seen.AWS_ENDPOINT_URL_SQS!;
    const queue = (url: string) => `${endpoint}${new URL(url).pathname}`;
    expect(seen).toMatchObject({
      ...stack.functionEnvironments.api,
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL_DYNAMODB: endpoint,
      AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
      HOOKRELAY_TABLE_NAME: stack.tableName,
      HOOKRELAY_WORK_QUEUE_URL: queue(stack.queueUrls.work),
      HOOKRELAY_RETRY_QUEUE_URL: queue(stack.queueUrls.retry),
      HOOKRELAY_ISOLATED_QUEUE_URL: queue(stack.queueUrls.isolated),
      HOOKRELAY_DLQ_URL: queue(stack.queueUrls.dlq),
      HOOKRELAY_API_KEY_SECRET_ARN: expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:123456789012:secret:/),
      HOOKRELAY_ALLOW_PRIVATE_TARGETS: 'true',
      HOOKRELAY_RETRY_SCHEDULE: '1,2',
      HOOKRELAY_LEASE_S: '300',
    });
    // The admin key is read from the stack's secret, as on AWS, never given directly.
    expect(seen.HOOKRELAY_API_KEY).toBeUndefined();
    expect(seen.AWS_ACCESS_KEY_ID).toEqual(expect.any(String));
    expect(stack.apiKey).toMatch(/^hr_admin_[A-Za-z0-9_-]{20,}$/);
  });

  it('uses HOOKRELAY_API_KEY when given', async () => {
    const stack = await track(startFakeStack({ env: { HOOKRELAY_API_KEY: 'hr_admin_given' } }));

    expect(stack.apiKey).toBe('hr_admin_given');
  });

  it('stops cleanly: ports closed, environment restored, and a second stop() is harmless', async () => {
    const before = process.env.HOOKRELAY_WORK_QUEUE_URL;
    const stack = await startFakeStack();
    expect(new URL(process.env.HOOKRELAY_WORK_QUEUE_URL!).pathname).toBe(new URL(stack.queueUrls.work).pathname);

    await stack.stop();
    await stack.stop();

    expect(await refused(`${stack.apiUrl}/health`)).toBe(true);
    expect(await refused(stack.endpoints.sqs)).toBe(true);
    expect(await refused(stack.endpoints.dynamodb)).toBe(true);
    expect(process.env.HOOKRELAY_WORK_QUEUE_URL).toBe(before);
  });

  it('waits for an API request in flight before stopping', async () => {
    let finished = false;
    const stack = await startFakeStack({
      handlers: {
        api: async () => {
          await new Promise((r) => setTimeout(r, 200));
          finished = true;
          return { statusCode: 200, body: 'done' };
        },
      },
    });

    const response = fetch(`${stack.apiUrl}/slow`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 50));
    await stack.stop();

    expect(finished).toBe(true);
    expect(await response).toBe('done');
  });

  it('keeps the admin key and the table in the data dir across a restart', async () => {
    const dataDir = tempDir();
    const item = { pk: { S: 'k' }, sk: { S: 'v' } };

    const first = await startFakeStack({ dataDir });
    const d1 = dynamoClient(first.endpoints.dynamodb);
    await d1.send(new PutItemCommand({ TableName: first.tableName, Item: item }));
    d1.destroy();
    await first.stop();

    const second = await track(startFakeStack({ dataDir }));
    const d2 = dynamoClient(second.endpoints.dynamodb);
    const { Item } = await d2.send(new GetItemCommand({ TableName: second.tableName, Key: item }));
    d2.destroy();

    expect(second.apiKey).toBe(first.apiKey);
    expect(readFileSync(join(dataDir, 'admin-key'), 'utf8').trim()).toBe(first.apiKey);
    expect(statSync(join(dataDir, 'admin-key')).mode & 0o077).toBe(0);
    expect(Item).toEqual(item);
  });

  it('refuses a second stack on a data dir in use, and takes over one left by a dead process', async () => {
    const dataDir = tempDir();
    const first = await startFakeStack({ dataDir });

    await expect(startFakeStack({ dataDir })).rejects.toThrow(/in use/);
    await first.stop();
    writeFileSync(join(dataDir, 'stack.pid'), '999999999');
    await track(startFakeStack({ dataDir }));
  });

  it('runs housekeeping on demand with a ScheduledEvent, one run at a time', async () => {
    let active = 0;
    let maxActive = 0;
    const hk = recorder<ScheduledEvent, unknown>(async (_e, call) => {
      maxActive = Math.max(maxActive, ++active);
      await new Promise((r) => setTimeout(r, 50));
      active--;
      return { run: call };
    });
    const stack = await track(startFakeStack({ handlers: { housekeeping: hk.handler } }));

    const results = await Promise.all([stack.runHousekeeping(), stack.runHousekeeping()]);

    expect(results).toEqual([{ run: 1 }, { run: 2 }]);
    expect(maxActive).toBe(1);
    expect(hk.calls[0]).toMatchObject({
      version: '0',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      region: 'us-east-1',
      resources: [expect.stringMatching(/^arn:aws:events:us-east-1:\d{12}:rule\//)],
      detail: {},
    });
    expect(hk.contexts[0]?.functionName).toBe('hookrelay-housekeeping');
  });

  it('runs housekeeping on its schedule, and at start with recover over a kept data dir', async () => {
    const hk = recorder<ScheduledEvent, unknown>(() => ({}));
    await track(
      startFakeStack({
        dataDir: tempDir(),
        housekeeping: true,
        env: { HOOKRELAY_HOUSEKEEPING_RATE_S: '1' },
        handlers: { housekeeping: hk.handler },
      }),
    );

    await waitFor(() => hk.calls.length >= 2, 'a start-up run and a scheduled run', 3_000);

    expect(hk.calls[0]?.detail).toEqual({ recover: true });
    expect(hk.calls[1]?.detail).toEqual({});
  });

  it('reports every bad variable in one ConfigError before starting anything', async () => {
    const attempt = startFakeStack({
      port: undefined,
      env: { PORT: 'http', HOOKRELAY_RETRY_SCHEDULE: 'soon', HOOKRELAY_DELIVERY_TIMEOUT_MS: '-1' },
    });

    const err = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    for (const name of ['PORT', 'HOOKRELAY_RETRY_SCHEDULE', 'HOOKRELAY_DELIVERY_TIMEOUT_MS']) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
  });

  it('fails to start on a port in use, and leaves the environment as it was', async () => {
    const first = await track(startFakeStack());
    const before = process.env.HOOKRELAY_WORK_QUEUE_URL;

    await expect(startFakeStack({ port: Number(new URL(first.apiUrl).port) })).rejects.toThrow(/in use/);
    expect(process.env.HOOKRELAY_WORK_QUEUE_URL).toBe(before);
  });
});
