/**
 * The operator CLI against the embedded local stack: real handlers, the SQS emulator's DLQ and
 * move task, a recording receiver. Commands run in-process through `run(argv, io)` with captured
 * output; one test runs the executable itself.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../cli/hookrelay';
import type { CliIO } from '../../cli/io';
import { writeLocalStackFile } from '../../infra/local-stack-file';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { freePort } from '../helpers/processes';
import { RecordingReceiver } from '../helpers/receiver';
import { testApi, type Api, type EventStatus } from '../helpers/target';

let stack: LocalStack;
let receiver: RecordingReceiver;
let api: Api;
let sqs: SQSClient;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON lines. */
  lines: Record<string, unknown>[];
}

/** Runs `hookrelay <args>` in-process against the local stack, as a non-interactive shell would. */
async function cli(args: string[], io: Partial<CliIO> & { global?: boolean } = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const globals =
    io.global === false
      ? []
      : ['--endpoint-url', stack.endpoints.sqs, '--api-url', stack.apiUrl, '--api-key', stack.apiKey];
  const code = await run([...globals, ...args], {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: {},
    interactive: false,
    ...io,
  });
  const lines = args.includes('--json')
    ? stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as Record<string, unknown>)
    : [];
  return { code, stdout, stderr, lines };
}

async function dlqCounts() {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: stack.queueUrls.dlq, AttributeNames: ['All'] }));
  return {
    messages: Number(out.Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

const FAILING = '/always-500';
/** Why a delivery to the always-failing endpoint was dead-lettered. */
const DEAD_REASON =
  /^exhausted after 4 attempts; last: .*500|^the retry window ended while the endpoint was paused, after [234] attempts/;
let appId: string;
let endpointId: string;
let sent: string[];

beforeAll(async () => {
  receiver = await new RecordingReceiver().start();
  stack = await startLocalStack({ port: 0, quiet: true, env: { HOOKRELAY_RETRY_SCHEDULE: '1,1,1' } });
  api = testApi(stack);
  sqs = new SQSClient({
    endpoint: stack.endpoints.sqs,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

  // Three deliveries that exhaust their retries (4 attempts, 1 s apart) and end in the DLQ.
  appId = await api.createApp('cli test');
  endpointId = (await api.createEndpoint(appId, receiver.script(FAILING, [500]))).id;
  sent = [];
  for (let i = 0; i < 3; i++) {
    sent.push((await api.sendEvent(appId, { type: 'order.created', data: { n: i } })).id);
  }
  await Promise.all(
    sent.map((id) => api.waitForStatus(appId, id, (s) => s.deliveries[0]?.status === 'failed', 30_000)),
  );
}, 60_000);

afterAll(async () => {
  sqs?.destroy();
  await stack?.stop();
  await receiver?.stop();
});

describe('hookrelay dlq', () => {
  it('lists exactly the three dead-lettered deliveries with their reasons, and leaves them in the queue', async () => {
    const r = await cli(['--json', 'dlq', 'list']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines.map((l) => l.eventId).sort()).toEqual([...sent].sort());
    for (const line of r.lines) {
      expect(line).toMatchObject({
        kind: 'exhausted',
        appId,
        endpointId,
        attempt: expect.toSatisfy((n: number) => n >= 2 && n <= 4),
        // All its retries fail, or, once its endpoint has failed enough retries to be paused by
        // the breaker (five, counted over the three deliveries: a delivery may have made only
        // two attempts by then), the retry window ends while it waits (issue 19).
        reason: expect.stringMatching(DEAD_REASON),
        messageId: expect.any(String),
        ageSeconds: expect.any(Number),
        receiveCount: expect.any(Number),
      });
    }
    // Peeked, not consumed: every message is visible again at once.
    expect(await dlqCounts()).toEqual({ messages: 3, inFlight: 0 });

    const table = await cli(['dlq', 'list']);
    expect(table.code).toBe(0);
    for (const id of sent) expect(table.stdout).toContain(id);
    expect(table.stdout).toMatch(/message id .*app .*event .*endpoint .*attempt .*reason .*age .*receives/);
    expect(table.stdout).toContain('3 message(s) shown');
  });

  it('shows one message in full, found by its message id', async () => {
    const [first] = (await cli(['--json', 'dlq', 'list'])).lines;
    const messageId = String(first?.messageId);

    const human = await cli(['dlq', 'show', messageId]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(messageId);
    expect(human.stdout).toContain(`"eventId": "${String(first?.eventId)}"`);
    expect(human.stdout).toMatch(/SentTimestamp +\d+/);

    const json = await cli(['--json', 'dlq', 'show', messageId]);
    expect(json.code).toBe(0);
    expect(json.lines).toHaveLength(1);
    expect(json.lines[0]).toMatchObject({
      messageId,
      body: { v: 2, appId, eventId: first?.eventId, endpointId, attempt: first?.attempt, reason: first?.reason },
      attributes: { SentTimestamp: expect.any(String) },
    });

    const missing = await cli(['dlq', 'show', 'no-such-message']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      'error: message no-such-message is not in the DLQ (or another reader has it in flight right now)\n',
    );
    expect(await dlqCounts()).toEqual({ messages: 3, inFlight: 0 });
  });

  it('asks before a redrive at a terminal, and moves nothing when the answer is no', async () => {
    const questions: string[] = [];
    const r = await cli(['dlq', 'redrive'], {
      interactive: true,
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    expect(r.code).toBe(1);
    expect(questions).toEqual([expect.stringContaining('Move about 3 message(s)')]);
    expect(r.stderr).toBe('error: aborted: nothing was moved\n');
    expect((await dlqCounts()).messages).toBe(3);
  });

  it('redrives with the move task: each event is delivered again with its webhook-id and succeeds, and the DLQ ends empty', async () => {
    receiver.script(FAILING, [200]);
    const before = receiver.on(FAILING).length;
    // Each attempt reached the receiver: 4 a delivery, or fewer for one whose window ended while
    // its endpoint was paused by the breaker, which takes five failed retries (first attempts are
    // not counted): at least 3 + 5 in all.
    const attemptsOf = new Map(
      await Promise.all(
        sent.map(async (id) => [id, (await api.eventStatus(appId, id)).deliveries[0]!.attempts] as const),
      ),
    );
    expect(before).toBe([...attemptsOf.values()].reduce((a, b) => a + b, 0));
    expect(before).toBeGreaterThanOrEqual(3 + 5);

    const r = await cli(['--json', 'dlq', 'redrive', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual([expect.objectContaining({ path: 'move-task', status: 'COMPLETED', moved: 3, total: 3 })]);
    expect(r.stderr).toContain('moved 3/3');
    console.info(
      `redrive via ${String(r.lines[0]?.path)}: ${String(r.lines[0]?.moved)} messages in ${String(r.lines[0]?.durationMs)} ms`,
    );

    await receiver.waitFor(
      (got) => got.filter((x) => x.path === FAILING).length >= before + 3,
      20_000,
      'the redriven webhooks',
    );
    const again = receiver.on(FAILING).slice(before);
    expect(again.map((x) => x.headers['webhook-id']).sort()).toEqual([...sent].sort());
    const statuses: EventStatus[] = await Promise.all(
      sent.map((id) => api.waitForStatus(appId, id, (s) => s.deliveries[0]?.status === 'succeeded')),
    );
    for (const s of statuses)
      expect(s.deliveries[0]).toMatchObject({
        status: 'succeeded',
        attempts: attemptsOf.get(s.id)! + 1,
        lastStatusCode: 200,
      });

    expect(await dlqCounts()).toEqual({ messages: 0, inFlight: 0 });
    const list = await cli(['--json', 'dlq', 'list']);
    expect(list.code).toBe(0);
    expect(list.lines).toEqual([]);
  });
});

describe('hookrelay events and deliveries', () => {
  let okApp: string;

  it('events send posts the event and prints the 202 answer as JSON', async () => {
    okApp = await api.createApp('cli events');
    await api.createEndpoint(okApp, receiver.endpoint([200]));
    const r = await cli([
      '--json',
      'events',
      'send',
      '--app',
      okApp,
      '--type',
      'invoice.paid',
      '--data',
      '{"amount":42}',
      '--id',
      'cli-inv-1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.lines).toEqual([{ id: 'cli-inv-1', type: 'invoice.paid', timestamp: expect.any(String), deliveries: 1 }]);
    const stored = await api.eventStatus(okApp, 'cli-inv-1');
    expect(stored.data).toEqual({ amount: 42 });

    const human = await cli([
      'events',
      'send',
      '--app',
      okApp,
      '--type',
      'invoice.paid',
      '--data',
      '{"amount":42}',
      '--id',
      'cli-inv-1',
    ]);
    expect(human.code).toBe(0);
    expect(JSON.parse(human.stdout)).toEqual(r.lines[0]);
  });

  it('events send reports an API refusal as one line and exit 1', async () => {
    const r = await cli([
      'events',
      'send',
      '--app',
      okApp,
      '--type',
      'invoice.paid',
      '--data',
      '{"amount":43}',
      '--id',
      'cli-inv-1',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: POST \/v1\/apps\/\S+\/events answered 409 conflict: .*\n$/);
  });

  it('deliveries tail exits 0 once every delivery succeeded', async () => {
    const r = await cli([
      'deliveries',
      'tail',
      '--app',
      okApp,
      '--event',
      'cli-inv-1',
      '--interval',
      '200ms',
      '--timeout',
      '20s',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ep_\S+ {2}(\w+ -> )?succeeded/);
    expect(r.stdout).toContain('all 1 deliveries finished: 1 succeeded, 0 failed, 0 skipped');
  });

  it('deliveries tail follows a failing delivery to the end and exits 1', async () => {
    const app = await api.createApp('cli tail');
    await api.createEndpoint(app, receiver.script('/tail-500', [500]));
    const event = await api.sendEvent(app, { type: 'order.created', data: {} });
    const r = await cli([
      '--json',
      'deliveries',
      'tail',
      '--app',
      app,
      '--event',
      event.id,
      '--interval',
      '200ms',
      '--timeout',
      '25s',
    ]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.lines.at(-2)).toMatchObject({ status: 'failed', attempts: 4, lastStatusCode: 500 });
    expect(r.lines.at(-1)).toEqual({ eventId: event.id, finished: true, succeeded: 0, failed: 1, skipped: 0 });
    expect(r.stderr).toBe(`error: 1 of 1 deliveries of ${event.id} failed\n`);

    // That delivery is now in the DLQ: redrive it by receive+send+delete, the fallback path.
    receiver.script('/tail-500', [200]);
    const redrive = await cli(['--json', 'dlq', 'redrive', '--yes', '--no-move-task']);
    expect(redrive.code, redrive.stderr).toBe(0);
    expect(redrive.lines).toEqual([
      expect.objectContaining({ path: 'receive-send-delete', status: 'COMPLETED', moved: 1, total: 1 }),
    ]);
    console.info(`redrive via receive-send-delete: 1 message in ${String(redrive.lines[0]?.durationMs)} ms`);
    const done = await api.waitForStatus(app, event.id, (s) => s.deliveries[0]?.status === 'succeeded');
    expect(done.deliveries[0]).toMatchObject({ attempts: 5, lastStatusCode: 200 });
    expect(receiver.on('/tail-500').map((x) => x.headers['webhook-id'])).toEqual(Array(5).fill(event.id));
    expect((await dlqCounts()).messages).toBe(0);
  });
});

describe('hookrelay endpoints', () => {
  it('creates an hmac-sha256 endpoint with a chosen secret from a file, custom headers and auth, then updates it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookrelay-cli-'));
    writeFileSync(join(dir, 'secret.txt'), 'a-secret-the-hook-owner-chose\n');
    writeFileSync(
      join(dir, 'auth.json'),
      JSON.stringify({ type: 'basic', username: 'ci', password: 'cli-password-1' }),
    );
    const app = await api.createApp('cli endpoints');
    const url = receiver.endpoint([200]);
    const created = await cli([
      '--json',
      'endpoints',
      'create',
      '--app',
      app,
      '--url',
      url,
      '--signature',
      'hmac-sha256',
      '--secret',
      `@${join(dir, 'secret.txt')}`,
      '--header',
      'X-Tenant: acme',
      '--auth',
      `@${join(dir, 'auth.json')}`,
    ]);
    expect(created.code, created.stderr).toBe(0);
    const ep = created.lines[0]!;
    expect(ep).toMatchObject({
      signature: { scheme: 'hmac-sha256', header: 'X-Hub-Signature-256', prefix: 'sha256=' },
      headerNames: ['X-Tenant'],
      auth: { type: 'basic', username: 'ci', passwordSet: true },
      verifyWith: 'a-secret-the-hook-owner-chose',
    });
    expect(created.stdout).not.toContain('cli-password-1');

    const sent = await api.sendEvent(app, { type: 'a.b', data: {} });
    await api.waitForStatus(app, sent.id, (s: EventStatus) => s.deliveries[0]?.status === 'succeeded');
    const got = receiver.on(url)[0]!;
    expect(got.headers['x-tenant']).toBe('acme');
    expect(got.headers.authorization).toBe(`Basic ${Buffer.from('ci:cli-password-1').toString('base64')}`);
    expect(got.headers['x-hub-signature-256']).toMatch(/^sha256=[0-9a-f]{64}$/);

    const updated = await cli([
      '--json',
      'endpoints',
      'update',
      '--app',
      app,
      '--endpoint',
      String(ep.id),
      '--signature',
      'standard-webhooks-v1a',
      '--no-auth',
      '--no-headers',
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.lines[0]).toMatchObject({ signature: { scheme: 'standard-webhooks-v1a' }, headerNames: [] });
    expect(updated.lines[0]!.auth).toBeUndefined();
    expect(String(updated.lines[0]!.verifyWith)).toMatch(/^whpk_/);

    const shown = await cli(['--json', 'endpoints', 'show', '--app', app, '--endpoint', String(ep.id)]);
    expect(shown.lines[0]).toMatchObject({ id: ep.id, signature: { publicKey: updated.lines[0]!.verifyWith } });
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports a refused option as one line naming the field, exit 1; nothing to change is a usage error', async () => {
    const app = await api.createApp('cli endpoints 2');
    const r = await cli(['endpoints', 'create', '--app', app, '--url', receiver.endpoint(), '--signature', 'md5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: POST \S+ answered 422 unprocessable: .*\(signature\.scheme: .*\)\n$/);
    const none = await cli(['endpoints', 'update', '--app', app, '--endpoint', 'ep_x']);
    expect(none.code).toBe(2);
  });
});

describe('hookrelay, odd messages and errors', () => {
  it('lists a message that is not a delivery message as poison', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrls.dlq, MessageBody: 'garbage' }));
    const r = await cli(['--json', 'dlq', 'list']);
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([
      expect.objectContaining({
        kind: 'poison',
        eventId: null,
        reason: expect.stringContaining('not a delivery message'),
      }),
    ]);
  });

  it('finds the DLQ from the CloudFormation stack outputs when no endpoint or URL is given', async () => {
    // A stand-in for CloudFormation's DescribeStacks (AWS Query protocol), reached the way the
    // SDK reaches LocalStack: AWS_ENDPOINT_URL_CLOUDFORMATION.
    const asked: string[] = [];
    const cfn = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const stackName = new URLSearchParams(body).get('StackName') ?? '';
        asked.push(`${new URLSearchParams(body).get('Action')} ${stackName}`);
        res.setHeader('content-type', 'text/xml');
        if (stackName !== 'Hookrelay-test') {
          res.statusCode = 400;
          res.end(
            `<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id ${stackName} does not exist</Message></Error><RequestId>r1</RequestId></ErrorResponse>`,
          );
          return;
        }
        res.end(
          '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member>' +
            '<StackName>Hookrelay-test</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/Hookrelay-test/1</StackId>' +
            '<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>' +
            `<member><OutputKey>DeadLetterQueueUrl</OutputKey><OutputValue>${stack.queueUrls.dlq}</OutputValue></member>` +
            '</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></DescribeStacksResponse>',
        );
      });
    });
    await new Promise<void>((resolve) => cfn.listen(0, '127.0.0.1', resolve));
    process.env.AWS_ENDPOINT_URL_CLOUDFORMATION = `http://127.0.0.1:${(cfn.address() as AddressInfo).port}`;
    try {
      const r = await cli(['--stack', 'Hookrelay-test', '--json', 'dlq', 'list'], { global: false });
      expect(r.code, r.stderr).toBe(0);
      expect(asked).toEqual(['DescribeStacks Hookrelay-test']);
      expect(r.lines).toEqual([expect.objectContaining({ kind: 'poison' })]);

      // A redrive also needs WorkQueueUrl, which this stack does not output.
      const noWork = await cli(['--stack', 'Hookrelay-test', 'dlq', 'redrive', '--yes'], { global: false });
      expect(noWork.code).toBe(1);
      expect(noWork.stderr).toBe(
        'error: stack Hookrelay-test has no output WorkQueueUrl; give --dlq-url and --work-queue-url\n',
      );

      const missing = await cli(['dlq', 'list'], { global: false });
      expect(missing.code).toBe(1);
      expect(asked.at(-1)).toBe('DescribeStacks Hookrelay');
      expect(missing.stderr).toMatch(
        /^error: reading the outputs of stack Hookrelay .*Stack with id Hookrelay does not exist/,
      );
    } finally {
      delete process.env.AWS_ENDPOINT_URL_CLOUDFORMATION;
      await new Promise((resolve) => cfn.close(resolve));
    }
  });

  it('purges only with --yes when not at a terminal, and says SQS takes up to 60 s', async () => {
    const refused = await cli(['dlq', 'purge']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe('error: purge deletes messages for good: add --yes when not at a terminal\n');

    const r = await cli(['dlq', 'purge', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('up to 60 s');
    // SQS allows one purge a minute: a second one at once proves the first reached it.
    const again = await cli(['dlq', 'purge', '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: PurgeQueue .*PurgeQueueInProgress.*\n$/);
  });

  it.each([
    [['frobnicate']],
    [['dlq']],
    [['dlq', 'list', '--limit', 'zero']],
    [['dlq', 'redrive', '--max-per-second', '501']],
    [['events', 'send', '--app', 'a', '--data', '{}']],
    [['events', 'send', '--app', 'a', '--type', 't', '--data', '{bad']],
    [['deliveries', 'tail', '--app', 'a', '--event', 'e', '--interval', 'soon']],
  ])('exits 2 on the usage error %j, with one error line', async (args) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stdout).toBe('');
  });

  it('exits 2 when the API or the queue cannot be named', async () => {
    const noApi = await cli(['events', 'send', '--app', 'a', '--type', 't', '--data', '{}'], { global: false });
    expect(noApi.code).toBe(2);
    expect(noApi.stderr).toMatch(/^error: no API URL: give --api-url or set HOOKRELAY_API_URL/);
    const badUrl = await cli(['--endpoint-url', 'not a url', 'dlq', 'list'], { global: false });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toBe('error: --endpoint-url must be a URL, got "not a url"\n');
  });

  it('reports an unreachable SQS endpoint in one line (exit 1), with the trace only under --debug', async () => {
    const r = await cli(['--endpoint-url', 'http://127.0.0.1:9', 'dlq', 'list'], { global: false });
    expect(r.code).toBe(1);
    // `dlq list` reads both DLQs at once: whichever refusal comes first is the one reported.
    expect(r.stderr).toMatch(
      /^error: GetQueueAttributes http:\/\/127\.0\.0\.1:9\/123456789012\/hookrelay(-ingest)?-dlq: cannot connect \(ECONNREFUSED\)/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const debug = await cli(['--debug', '--endpoint-url', 'http://127.0.0.1:9', 'dlq', 'list'], { global: false });
    expect(debug.stderr).toMatch(/\n\s+at /);
  });

  it('runs as an executable: --help exits 0, a usage error exits 2', async () => {
    const bin = fileURLToPath(new URL('../../bin/hookrelay.mjs', import.meta.url));
    const exec = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [bin, ...args], { timeout: 20_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
    const help = await exec(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(
      /Usage: hookrelay .*\n[\s\S]*apps[\s\S]*endpoints[\s\S]*keys[\s\S]*portal[\s\S]*events[\s\S]*deliveries[\s\S]*dlq/,
    );
    // LocalStack's port alone would imply the embedded stack's queue URLs (docs/operations.md).
    expect(help.stdout).not.toMatch(/--endpoint-url \S+:4566/);
    // The SDK's notice about Node versions is not an operator's business.
    expect(help.stderr).not.toMatch(/NodeVersionSupportWarning|Node\.js version/);
    const usage = await exec(['dlq', 'list', '--limit', '0']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^error: option '--limit <n>' argument '0' is invalid/);
  });
});

// Last: its failing deliveries reach the DLQ, which the tests above count.
describe('hookrelay apps, keys, portal, endpoints and events', () => {
  it('creates an app, shows it, and makes and revokes a key that works until revoked', async () => {
    const created = await cli(['--json', 'apps', 'create', '--name', 'cli apps']);
    expect(created.code, created.stderr).toBe(0);
    const app = created.lines[0] as { id: string; name: string };
    expect(app).toMatchObject({ name: 'cli apps', id: expect.stringMatching(/^app_/) });
    const shown = await cli(['--json', 'apps', 'show', '--app', app.id]);
    expect(shown.lines).toEqual([expect.objectContaining({ id: app.id, name: 'cli apps' })]);
    const strict = await cli(['--json', 'apps', 'update', '--app', app.id, '--known-event-types-only']);
    expect(strict.lines).toEqual([expect.objectContaining({ id: app.id, knownEventTypesOnly: true })]);
    const refused = await cli(['events', 'send', '--app', app.id, '--type', 'never.listed', '--data', '{}']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/answered 422 unprocessable: .*\(type: is not in the event-type catalog/);
    const lax = await cli(['--json', 'apps', 'update', '--app', app.id, '--any-event-type']);
    expect(lax.lines[0]).not.toHaveProperty('knownEventTypesOnly');

    const key = (await cli(['--json', 'keys', 'create', '--app', app.id, '--name', 'ci'])).lines[0] as {
      id: string;
      key: string;
    };
    const withKey = (k: string) => cli(['--json', '--api-key', k, 'endpoints', 'list', '--app', app.id]);
    expect((await withKey(key.key)).code).toBe(0);
    const revoked = await cli(['keys', 'delete', '--app', app.id, '--key', key.id, '--yes']);
    expect(revoked.code, revoked.stderr).toBe(0);
    const gone = await withKey(key.key);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/answered 401/);
  });

  it('mints a portal link that opens a session, and revokes every link', async () => {
    const app = await api.createApp('cli portal');
    const link = await cli(['--json', 'portal', 'link', '--app', app, '--capability', 'read', '--ttl', '3600']);
    expect(link.code, link.stderr).toBe(0);
    const { url, token, expiresAt } = link.lines[0] as { url: string; token: string; expiresAt: string };
    expect(url).toContain(`#token=${token}`);
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(3500_000);
    const session = () => fetch(`${stack.apiUrl}/v1/portal/session`, { headers: { authorization: `Bearer ${token}` } });
    expect((await session()).status).toBe(200);
    const revoked = await cli(['portal', 'revoke', '--app', app, '--yes']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await session()).status).toBe(401);
    const bad = await cli(['portal', 'link', '--app', app, '--capability', 'write']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/capabilities/);
  });

  it('lists, disables, enables and deletes endpoints', async () => {
    const app = await api.createApp('cli endpoints');
    const a = await api.createEndpoint(app, receiver.script('/ep-a', [200]));
    const b = await api.createEndpoint(app, receiver.script('/ep-b', [200]), { eventTypes: ['order.created'] });
    const listed = await cli(['endpoints', 'list', '--app', app]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(`${a.id}  enabled   ${receiver.baseUrl}/ep-a  (every type)`);
    expect(listed.stdout).toContain(`${b.id}  enabled   ${receiver.baseUrl}/ep-b  (order.created)`);

    const disabled = await cli(['--json', 'endpoints', 'disable', '--app', app, '--endpoint', a.id]);
    expect(disabled.lines[0]).toMatchObject({ id: a.id, enabled: false });
    expect((await cli(['--json', 'endpoints', 'enable', '--app', app, '--endpoint', a.id])).lines[0]).toMatchObject({
      enabled: true,
    });
    const deleted = await cli(['endpoints', 'delete', '--app', app, '--endpoint', b.id, '--yes']);
    expect(deleted.code, deleted.stderr).toBe(0);
    const after = await cli(['--json', 'endpoints', 'list', '--app', app]);
    expect(after.lines.map((e) => e.id)).toEqual([a.id]);
    const gone = await cli(['endpoints', 'show', '--app', app, '--endpoint', b.id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/answered 404/);
  });

  it('shows an event, its attempts with the error, and resends it', async () => {
    const app = await api.createApp('cli events');
    // Nothing listens there: the connection is refused, so the attempt has an error and no status.
    await api.createEndpoint(app, `http://127.0.0.1:${await freePort()}/refused`);
    const ok = await api.createEndpoint(app, receiver.script('/ev-ok', [200]));
    const event = await api.sendEvent(app, { type: 'order.created', data: { n: 1 } });
    await api.waitForStatus(app, event.id, (s) => s.deliveries.every((d) => d.attempts > 0));

    const shown = await cli(['--json', 'events', 'show', '--app', app, '--event', event.id]);
    expect(shown.lines[0]).toMatchObject({ id: event.id, type: 'order.created', data: { n: 1 } });
    const attempts = await cli(['events', 'attempts', '--app', app, '--event', event.id]);
    expect(attempts.code, attempts.stderr).toBe(0);
    expect(attempts.stdout).toMatch(/#1 {2}\w+ {2}no answer {2}\d+ ms {2}connection refused/);
    expect(attempts.stdout).toMatch(new RegExp(`${ok.id} {2}#1 {2}succeeded {2}HTTP 200`));

    const before = receiver.on('/ev-ok').length;
    const resent = await cli(['--json', 'events', 'resend', '--app', app, '--event', event.id, '--endpoint', ok.id]);
    expect(resent.code, resent.stderr).toBe(0);
    await receiver.waitFor(() => receiver.on('/ev-ok').length > before, 10_000, 'the resent webhook');
  });

  it('deliveries tail names the error of an attempt that got no answer (a refused connection)', async () => {
    const app = await api.createApp('cli tail refused');
    await api.createEndpoint(app, `http://127.0.0.1:${await freePort()}/refused`);
    const event = await api.sendEvent(app, { type: 'order.created', data: {} });
    const r = await cli([
      'deliveries',
      'tail',
      '--app',
      app,
      '--event',
      event.id,
      '--interval',
      '200ms',
      '--timeout',
      '25s',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/attempts 1, last error: connection refused/);
  });

  it('says there is no such command, whatever options follow', async () => {
    const r = await cli(['endpoints', 'frob', '--app', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^error: no such command: hookrelay endpoints frob \(the commands: hookrelay endpoints <.*list.*>/,
    );
  });

  it('finds the running local stack from .hookrelay/local.json: no --endpoint-url, API URL or key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hookrelay-cli-local-'));
    try {
      const keyFile = join(dir, 'key');
      writeFileSync(keyFile, `${stack.apiKey}\n`);
      writeLocalStackFile(dir, {
        pid: process.pid,
        apiUrl: stack.apiUrl,
        sqsEndpoint: stack.endpoints.sqs,
        eventsUrl: stack.eventsUrl,
        apiKeyFile: keyFile,
      });
      mkdirSync(join(dir, 'sub'));
      const found = { global: false, cwd: join(dir, 'sub') };
      const dlq = await cli(['--json', 'dlq', 'list'], found);
      expect(dlq.code, dlq.stderr).toBe(0);
      const app = await cli(['--json', 'apps', 'create', '--name', 'found'], found);
      expect(app.code, app.stderr).toBe(0);
      // A file left by a process that is gone is not followed.
      writeLocalStackFile(dir, { pid: 999_999_999, apiUrl: stack.apiUrl, sqsEndpoint: 'x', eventsUrl: 'x' });
      const stale = await cli(['apps', 'create', '--name', 'x'], found);
      expect(stale.code).toBe(2);
      expect(stale.stderr).toMatch(/no API URL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
