/**
 * The system under end-to-end test, reached through its public interfaces only. By default the
 * embedded local stack, started in this process. One variable points it at a deployed stack:
 *
 *   E2E_STACK            a deployed stack's name (e.g. Hookrelay): its outputs give the API URL,
 *                        the bus, the DLQ and the admin key (read from Secrets Manager), with the
 *                        SDK's usual credentials and endpoint (AWS_ENDPOINT_URL for LocalStack)
 *
 * or, without CloudFormation access, the values themselves:
 *
 *   E2E_API_URL          the API's base URL (the stack output ApiUrl)
 *   E2E_API_KEY          its admin key
 *   E2E_EVENTS_ENDPOINT  optional: an EventBridge endpoint for the PutEvents test (else the SDK default)
 *   E2E_EVENT_BUS_NAME   optional: the bus (the stack output EventBusName)
 *   E2E_DLQ_URL          optional: the DLQ (the stack output DeadLetterQueueUrl), read with the SDK's credentials
 *   E2E_RECEIVER_HOST    the address the target's functions use to reach this machine's receiver
 *                        (e.g. host.docker.internal for LocalStack); default 127.0.0.1
 *
 * A deployed target must run with HOOKRELAY_RETRY_SCHEDULE=1,1,1 for the retry tests.
 *
 * The embedded stack runs the synthesized cloud assembly (the bundles and wiring that deploy);
 * E2E_LOCAL_CODE=src runs the TypeScript sources instead. Every AWS call its functions make is
 * written to AWS_CALLS_DIR when the target stops, for the IAM test (test/iam).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { describeApiError, hookrelayClient, type RequestBody, type Schemas } from '../../client';
import { keyFromSecretString } from '../../functions/access/aws-admin-key';
import { rawRequest, type RawOptions, type RawResponse } from '../../bench/api-client';
import { documentedAnswers } from './documented';
import { REPO_ROOT } from '../../infra/local/assembly';
import { startLocalStack } from '../../infra/local/stack';

/** Where the end-to-end run leaves the AWS calls it saw, one file per embedded stack. */
export const AWS_CALLS_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'hookrelay', 'aws-calls');

export interface Target {
  apiUrl: string;
  apiKey: string;
  eventsEndpoint: string | undefined;
  eventBusName: string | undefined;
  dlq: { url: string; sqsEndpoint: string | undefined } | undefined;
  receiverHost: string;
  embedded: boolean;
  runHousekeeping?: () => Promise<unknown>;
  /** Embedded only: the emulators' DynamoDB endpoint and the table's local name. */
  local?: { dynamodb: string; tableName: string };
  /** Embedded only: the SQS emulator loses every message, then housekeeping recovers (LocalStack.restartSqs). */
  restartSqs?: () => Promise<unknown>;
  stop(): Promise<void>;
}

/** Reads a deployed stack's outputs and admin key into the E2E_* variables. */
async function resolveStack(stackName: string): Promise<void> {
  const cfn = new CloudFormationClient({});
  const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
  cfn.destroy();
  const outputs = Object.fromEntries((out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey, o.OutputValue]));
  if (!outputs.ApiUrl) throw new Error(`stack ${stackName} has no ApiUrl output`);
  process.env.E2E_API_URL ??= outputs.ApiUrl;
  if (outputs.EventBusName) process.env.E2E_EVENT_BUS_NAME ??= outputs.EventBusName;
  if (outputs.DeadLetterQueueUrl) process.env.E2E_DLQ_URL ??= outputs.DeadLetterQueueUrl;
  if (!process.env.E2E_API_KEY && outputs.AdminKeySecretArn) {
    const sm = new SecretsManagerClient({});
    const secret = await sm.send(new GetSecretValueCommand({ SecretId: outputs.AdminKeySecretArn }));
    sm.destroy();
    const key = keyFromSecretString(secret.SecretString ?? '');
    process.env.E2E_API_KEY = key;
  }
}

export async function startTarget(env: Record<string, string> = {}): Promise<Target> {
  if (process.env.E2E_STACK) await resolveStack(process.env.E2E_STACK);
  const remote = process.env.E2E_API_URL;
  if (remote) {
    const apiKey = process.env.E2E_API_KEY;
    if (!apiKey) throw new Error('E2E_API_URL is set but E2E_API_KEY is not');
    return {
      apiUrl: remote.replace(/\/$/, ''),
      apiKey,
      eventsEndpoint: process.env.E2E_EVENTS_ENDPOINT,
      eventBusName: process.env.E2E_EVENT_BUS_NAME,
      dlq: process.env.E2E_DLQ_URL ? { url: process.env.E2E_DLQ_URL, sqsEndpoint: undefined } : undefined,
      receiverHost: process.env.E2E_RECEIVER_HOST ?? '127.0.0.1',
      embedded: false,
      stop: async () => {},
    };
  }
  const code = process.env.E2E_LOCAL_CODE === 'src' ? 'src' : 'assembly';
  const stack = await startLocalStack({
    port: 0,
    quiet: true,
    code,
    env: { HOOKRELAY_RETRY_SCHEDULE: '1,1,1', ...env },
  });
  return {
    apiUrl: stack.apiUrl,
    apiKey: stack.apiKey,
    eventsEndpoint: stack.eventsUrl,
    eventBusName: undefined,
    dlq: { url: stack.queueUrls.dlq, sqsEndpoint: stack.endpoints.sqs },
    receiverHost: '127.0.0.1',
    embedded: true,
    runHousekeeping: () => stack.runHousekeeping(),
    restartSqs: () => stack.restartSqs(),
    local: { dynamodb: stack.endpoints.dynamodb, tableName: stack.tableName },
    stop: async () => {
      await stack.stop();
      if (code !== 'assembly') return;
      mkdirSync(AWS_CALLS_DIR, { recursive: true });
      const file = join(AWS_CALLS_DIR, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, JSON.stringify({ assembly: stack.assembly.dir, calls: stack.awsCalls }));
    },
  };
}

/**
 * The API as the tests reach it: `hr` is the typed client generated from docs/openapi.yaml
 * (client/), so every request and answer is checked against the API's own document; `raw` sends
 * what that client cannot type (malformed bodies, routes walked from the route table); the rest
 * are shortcuts that fail the test on an unexpected answer. Every answer `hr` receives is held
 * to the document too (documented.ts) unless `checkAnswers` is false (a fault test that counts
 * odd answers itself).
 */
export function testApi(target: Pick<Target, 'apiUrl' | 'apiKey'>, opts: { checkAnswers?: boolean } = {}) {
  const hr = hookrelayClient({ baseUrl: target.apiUrl, key: target.apiKey });
  if (opts.checkAnswers !== false) hr.use(documentedAnswers);
  const must = <T>(what: string, r: { data?: T; error?: unknown; response: Response }): T => {
    if (!r.response.ok || r.data === undefined)
      throw new Error(`${what}: ${r.response.status} ${describeApiError(r.response.status, r.error)}`);
    return r.data;
  };
  const eventStatus = async (appId: string, eventId: string) =>
    must(
      `event ${eventId}`,
      await hr.GET('/v1/apps/{appId}/events/{eventId}', { params: { path: { appId, eventId } } }),
    );
  return {
    hr,
    /** A request the typed client would refuse to build: `raw` is sent as the body verbatim. */
    raw: (method: string, path: string, body?: unknown, o: RawOptions = {}): Promise<RawResponse> =>
      rawRequest(target, method, path, body, o),
    async createApp(name = 'test app') {
      return must('create app', await hr.POST('/v1/apps', { body: { name } })).id;
    },
    /** Registers an endpoint and reads its secret (what its receiver verifies with). */
    async createEndpoint(
      appId: string,
      url: string,
      extra: Omit<RequestBody<'/v1/apps/{appId}/endpoints', 'post'>, 'url'> = {},
    ) {
      const path = { appId };
      const ep = must(
        'create endpoint',
        await hr.POST('/v1/apps/{appId}/endpoints', { params: { path }, body: { url, ...extra } }),
      );
      const secret = must(
        'endpoint secret',
        await hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/secret', {
          params: { path: { appId, endpointId: ep.id } },
        }),
      );
      return { ...ep, secret: secret.key };
    },
    /** Sends an event; anything but 202 fails the test. */
    async sendEvent(appId: string, event: RequestBody<'/v1/apps/{appId}/events', 'post'>) {
      return must('send event', await hr.POST('/v1/apps/{appId}/events', { params: { path: { appId } }, body: event }));
    },
    eventStatus,
    /** The event's attempts, oldest first. */
    async attempts(appId: string, eventId: string) {
      const r = await hr.GET('/v1/apps/{appId}/events/{eventId}/attempts', { params: { path: { appId, eventId } } });
      return must(`attempts of ${eventId}`, r).items;
    },
    /** Polls the event's status until `done` holds for it. */
    async waitForStatus(appId: string, eventId: string, done: (s: EventStatus) => boolean, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await hr.GET('/v1/apps/{appId}/events/{eventId}', { params: { path: { appId, eventId } } });
        if (r.data && done(r.data)) return r.data;
        if (Date.now() > deadline)
          throw new Error(`event ${eventId} did not reach the state: ${JSON.stringify(r.data ?? r.error)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    },
  };
}

export type Api = ReturnType<typeof testApi>;

export type { RawOptions, RawResponse };

/** An event's status as the API documents it (the typed client's, generated from docs/openapi.yaml). */
export type EventStatus = Schemas['EventStatus'];
