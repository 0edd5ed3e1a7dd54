/**
 * Every AWS call made while the local stack runs, as IAM sees it: who made it (a function's role,
 * or a service principal such as events.amazonaws.com acting for a rule), the IAM action
 * (`sqs:SendMessage` for SendMessageBatch too) and the ARN it targets, named as the deployed stack
 * would name it (template.ts, deployedNaming). The IAM test (test/iam) evaluates each call
 * against the synthesized policies.
 *
 * The functions reach the emulators only through a recording endpoint of their own
 * (`awsEndpoint`), which names the caller and forwards each AWS JSON protocol request to the
 * emulator serving it; the runtime records what it does for a function itself (the event source
 * mapping's receives and deletes, Lambda's dead-letter sends, EventBridge's deliveries).
 */
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:http';
import type { Dispatch } from './emulators';
import { readBody } from './net';

export interface AwsCall {
  /** A role's logical id (`role:<id>`) or a service principal (`service:events.amazonaws.com`). */
  principal: string;
  /** What made the call, for a report: the function's role, `event source mapping`, ... */
  via: string;
  action: string;
  resource: string;
  /** Condition keys AWS would set (aws:SourceArn for a service acting for a rule). */
  context?: Record<string, string>;
}

export class CallRecorder {
  readonly calls: AwsCall[] = [];
  private readonly seen = new Set<string>();
  record(call: AwsCall): void {
    const key = JSON.stringify(call);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.calls.push(call);
  }
}

/** Local names of the resources a call may name, to the deployed ARN of the same resource. */
export interface ArnLookup {
  queueByUrlOrName(urlOrName: string): string | undefined;
  queueByArn(arn: string): string | undefined;
  table(name: string): string | undefined;
  secret(idOrName: string): string | undefined;
  bus(nameOrArn: string | undefined): string | undefined;
}

type Input = Record<string, unknown>;
const objectKeys = (v: unknown) => (v && typeof v === 'object' ? Object.keys(v) : []);

/** The (action, resource) pairs IAM authorizes for one request, or a reason it cannot say. */
export function iamRequests(target: string, input: Input, arns: ArnLookup): { action: string; resource: string }[] {
  const [prefix, op = ''] = target.split('.');
  const unknown = (what: string) => [{ action: `unknown:${op}`, resource: `unknown:${what}` }];
  if (prefix === 'AmazonSQS') {
    const queue =
      typeof input.QueueUrl === 'string'
        ? arns.queueByUrlOrName(input.QueueUrl)
        : typeof input.SourceArn === 'string'
          ? arns.queueByArn(input.SourceArn)
          : typeof input.QueueName === 'string'
            ? arns.queueByUrlOrName(input.QueueName)
            : undefined;
    const action = `sqs:${op.replace(/Batch$/, '')}`;
    return [{ action, resource: queue ?? `unknown:${JSON.stringify(input.QueueUrl ?? input.SourceArn)}` }];
  }
  if (prefix?.startsWith('DynamoDB_')) {
    const tableArn = (name: unknown, index?: unknown) => {
      const arn = typeof name === 'string' ? arns.table(name) : undefined;
      if (!arn) return `unknown:${String(name)}`;
      return typeof index === 'string' ? `${arn}/index/${index}` : arn;
    };
    switch (op) {
      case 'BatchGetItem':
      case 'BatchWriteItem':
        return objectKeys(input.RequestItems).map((t) => ({ action: `dynamodb:${op}`, resource: tableArn(t) }));
      case 'TransactWriteItems':
      case 'TransactGetItems':
        return ((input.TransactItems ?? []) as Input[]).flatMap((item) =>
          Object.entries(item).map(([kind, spec]) => ({
            action: `dynamodb:${{ Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' }[kind] ?? kind}`,
            resource: tableArn((spec as Input).TableName),
          })),
        );
      default:
        return [{ action: `dynamodb:${op}`, resource: tableArn(input.TableName, input.IndexName) }];
    }
  }
  if (prefix === 'secretsmanager') {
    const arn = typeof input.SecretId === 'string' ? arns.secret(input.SecretId) : undefined;
    return [{ action: `secretsmanager:${op}`, resource: arn ?? `unknown:${String(input.SecretId)}` }];
  }
  if (prefix === 'AWSEvents') {
    const entries = (input.Entries ?? []) as Input[];
    const buses = new Set(entries.map((e) => arns.bus(e.EventBusName as string | undefined) ?? 'unknown:bus'));
    return [...buses].map((resource) => ({ action: `events:${op}`, resource }));
  }
  return unknown(target);
}

export interface AwsEndpointOptions {
  /** Who calls through this endpoint. */
  principal: string;
  via: string;
  recorder: CallRecorder | undefined;
  arns: ArnLookup;
  /** Where each protocol goes: by the X-Amz-Target prefix. */
  routes: {
    sqs: string;
    dynamodb: string;
    events: string;
    /** Secrets Manager is answered here (see localSecrets). */
    secrets: (target: string, input: Input) => { status: number; body: unknown };
  };
  /**
   * The emulators' own request handlers (Emulators.dispatch). With nothing to record, SQS and
   * DynamoDB requests are handed to them as they come, body unread: no second connection, no
   * second parse, as a function's call on AWS reaches the service in one hop.
   */
  local?: { sqs: Dispatch; dynamodb: Dispatch };
}

/** A function's own AWS endpoint: records each call, then forwards it. */
export function awsEndpoint(opts: AwsEndpointOptions): Server {
  return createServer((req, res) => {
    void handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ __type: 'InternalFailure', message: 'local AWS endpoint failed' }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    if (!opts.recorder && opts.local) {
      const prefix = target.split('.')[0] ?? '';
      const local =
        prefix === 'AmazonSQS' ? opts.local.sqs : prefix.startsWith('DynamoDB_') ? opts.local.dynamodb : undefined;
      if (local) return local(req, res);
    }
    const body = await readBody(req, 16 * 1024 * 1024);
    let input: Input = {};
    try {
      input = JSON.parse(body.toString('utf8') || '{}') as Input;
    } catch {
      // forwarded as is: the service answers the bad request
    }
    for (const r of iamRequests(target, input, opts.arns)) {
      opts.recorder?.record({ principal: opts.principal, via: opts.via, ...r });
    }
    const prefix = target.split('.')[0] ?? '';
    if (prefix === 'secretsmanager') {
      const out = opts.routes.secrets(target, input);
      const text = JSON.stringify(out.body);
      res.writeHead(out.status, {
        'content-type': 'application/x-amz-json-1.1',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
      return;
    }
    const upstream =
      prefix === 'AmazonSQS'
        ? opts.routes.sqs
        : prefix.startsWith('DynamoDB_')
          ? opts.routes.dynamodb
          : prefix === 'AWSEvents'
            ? opts.routes.events
            : undefined;
    if (!upstream) {
      res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ __type: 'UnknownOperationException', message: `no local service for ${target}` }));
      return;
    }
    await forward(upstream, req, body, res);
  }
}

function forward(upstream: string, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', upstream);
  const headers = { ...req.headers, host: url.host, 'content-length': String(body.length) };
  return new Promise((resolve, reject) => {
    const out = request(url, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
      up.on('end', resolve);
      up.on('error', reject);
    });
    out.on('error', reject);
    out.end(body);
  });
}

/**
 * Secrets Manager's GetSecretValue for the stack's secrets, in the AWS JSON 1.1 protocol. A
 * secret is named by its ARN or its name.
 */
export function localSecrets(values: Map<string, { arn: string; name: string; value: string }>) {
  return (target: string, input: Input): { status: number; body: unknown } => {
    if (target !== 'secretsmanager.GetSecretValue') {
      return { status: 400, body: { __type: 'UnknownOperationException', message: `${target} is not served locally` } };
    }
    const id = String(input.SecretId ?? '');
    const secret = [...values.values()].find((s) => s.arn === id || s.name === id);
    if (!secret) {
      return {
        status: 400,
        body: { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." },
      };
    }
    return {
      status: 200,
      body: {
        ARN: secret.arn,
        Name: secret.name,
        SecretString: secret.value,
        VersionId: '00000000-0000-0000-0000-000000000001',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 0,
      },
    };
  };
}
