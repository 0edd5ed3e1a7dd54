/**
 * The synthesized CloudFormation template, read as the one description of wiring that both AWS
 * and the local runtime obey: which functions exist (code, handler, environment, timeout,
 * memory), which queues feed them (event source mappings), which rules route the bus's events
 * and which schedules run, the queues' and the table's settings, and the API's routes.
 *
 * References (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`) are resolved
 * by a `Naming`: the local one names the emulators' resources, the deployed one names them as a
 * deployed stack would (the IAM check evaluates ARNs of that form).
 */
import { LocalStackError } from './errors';
import { FUNCTION_TAG } from '../topology';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown }>;
}

/** Ref and Fn::GetAtt values of a resource, by attribute (`Ref` for Ref). */
export type Attributes = Record<string, string>;

export interface Naming {
  account: string;
  region: string;
  stackName: string;
  /** The attributes of one resource. */
  attributes(logicalId: string, resource: CfnResource): Attributes;
}

/** A resource's physical name: the template's own name property, else one made from its id. */
export function physicalName(logicalId: string, resource: CfnResource, nameProperty: string, made: string): string {
  const given = resource.Properties?.[nameProperty];
  return typeof given === 'string' ? given : made;
}

/**
 * ARNs and names of a stack deployed as `stackName` in a fixed account and region. Physical
 * names CloudFormation would generate are `<stack>-<logicalId>`, without its random suffix.
 */
export function deployedNaming(account: string, region: string, stackName: string): Naming {
  return {
    account,
    region,
    stackName,
    attributes(id, r) {
      const made = `${stackName}-${id}`;
      return standardAttributes(r, id, {
        account,
        region,
        name: made,
        queueUrl: (name) => `https://sqs.${region}.amazonaws.com/${account}/${name}`,
        apiEndpoint: (apiId) => `https://${apiId}.execute-api.${region}.amazonaws.com`,
      });
    },
  };
}

export interface NamingParts {
  account: string;
  region: string;
  /** The name of a resource whose template gives it none. */
  name: string;
  queueUrl(name: string): string;
  apiEndpoint(apiId: string): string;
}

/** The attributes CloudFormation gives each resource type hookrelay's stack uses. */
export function standardAttributes(r: CfnResource, id: string, p: NamingParts): Attributes {
  const arn = (service: string, rest: string) => `arn:aws:${service}:${p.region}:${p.account}:${rest}`;
  switch (r.Type) {
    case 'AWS::SQS::Queue': {
      // CloudFormation ends the name it makes for a FIFO queue with `.fifo`, as SQS requires.
      const fifo = r.Properties?.FifoQueue === true && !p.name.endsWith('.fifo');
      const name = physicalName(id, r, 'QueueName', fifo ? `${p.name}.fifo` : p.name);
      const url = p.queueUrl(name);
      return { Ref: url, QueueUrl: url, Arn: arn('sqs', name), QueueName: name };
    }
    case 'AWS::DynamoDB::Table': {
      const name = physicalName(id, r, 'TableName', p.name);
      return { Ref: name, Arn: arn('dynamodb', `table/${name}`) };
    }
    case 'AWS::Events::EventBus': {
      const name = physicalName(id, r, 'Name', p.name);
      const a = arn('events', `event-bus/${name}`);
      return { Ref: name, Name: name, Arn: a };
    }
    case 'AWS::Events::Rule': {
      const name = physicalName(id, r, 'Name', p.name);
      return { Ref: name, Arn: arn('events', `rule/${name}`) };
    }
    case 'AWS::Scheduler::Schedule': {
      const name = physicalName(id, r, 'Name', p.name);
      return { Ref: name, Arn: arn('scheduler', `schedule/default/${name}`) };
    }
    case 'AWS::SecretsManager::Secret': {
      const name = physicalName(id, r, 'Name', p.name);
      // Secrets Manager appends six random characters to a secret's ARN.
      const a = arn('secretsmanager', `secret:${name}-AbCdEf`);
      return { Ref: a, Id: a };
    }
    case 'AWS::Lambda::Function': {
      const name = physicalName(id, r, 'FunctionName', p.name);
      return { Ref: name, Arn: arn('lambda', `function:${name}`) };
    }
    case 'AWS::KMS::Key': {
      const keyId = `00000000-0000-0000-0000-${hex12(id)}`;
      return { Ref: keyId, KeyId: keyId, Arn: arn('kms', `key/${keyId}`) };
    }
    case 'AWS::IAM::Role': {
      const name = physicalName(id, r, 'RoleName', p.name);
      return { Ref: name, Arn: `arn:aws:iam::${p.account}:role/${name}`, RoleId: `AROA${hex12(id).toUpperCase()}` };
    }
    case 'AWS::Logs::LogGroup': {
      const name = physicalName(id, r, 'LogGroupName', `/aws/lambda/${p.name}`);
      return { Ref: name, Arn: arn('logs', `log-group:${name}:*`) };
    }
    case 'AWS::ApiGatewayV2::Api':
    case 'AWS::ApiGateway::RestApi': {
      const apiId = hex12(id).slice(0, 10);
      return { Ref: apiId, ApiEndpoint: p.apiEndpoint(apiId), RootResourceId: `${apiId}root` };
    }
    case 'AWS::SNS::Topic': {
      const name = physicalName(id, r, 'TopicName', p.name);
      const a = arn('sns', name);
      return { Ref: a, TopicArn: a, TopicName: name };
    }
    default:
      return { Ref: p.name, Arn: arn('unknown', id) };
  }
}

function hex12(s: string): string {
  let h = 0x811c9dc5;
  let g = 0x01000193;
  for (const c of s) {
    h = Math.imul(h ^ c.charCodeAt(0), 16_777_619) >>> 0;
    g = Math.imul(g ^ c.charCodeAt(0), 2_246_822_519) >>> 0;
  }
  return (h.toString(16).padStart(8, '0') + g.toString(16).padStart(8, '0')).slice(0, 12);
}

/** Resolves a template value under a naming. Throws, naming the path, on what it cannot resolve. */
export function resolve(template: CfnTemplate, naming: Naming, value: unknown, where = 'value'): unknown {
  const cache = new Map<string, Attributes>();
  const attrs = (id: string): Attributes => {
    let a = cache.get(id);
    if (!a) {
      const r = template.Resources[id];
      if (!r) throw new LocalStackError(`${where}: the template has no resource ${id}`);
      a = naming.attributes(id, r);
      cache.set(id, a);
    }
    return a;
  };
  const pseudo: Record<string, string> = {
    'AWS::Region': naming.region,
    'AWS::AccountId': naming.account,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': naming.stackName,
  };
  const ref = (name: string): string => {
    if (name in pseudo) return pseudo[name]!;
    const v = attrs(name).Ref;
    if (v === undefined) throw new LocalStackError(`${where}: no Ref for ${name}`);
    return v;
  };
  const getAtt = (id: string, attr: string): string => {
    const v = attrs(id)[attr];
    if (v === undefined) throw new LocalStackError(`${where}: no attribute ${attr} of ${id}`);
    return v;
  };
  const str = (v: unknown): string => {
    const r = go(v);
    if (typeof r !== 'string') throw new LocalStackError(`${where}: expected a string, got ${JSON.stringify(r)}`);
    return r;
  };
  const go = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(go);
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const arg = o[k];
      switch (k) {
        case 'Ref':
          return ref(String(arg));
        case 'Fn::GetAtt': {
          const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split(/\.(.*)/);
          return getAtt(String(id), String(attr));
        }
        case 'Fn::Join': {
          const [sep, parts] = arg as [string, unknown[]];
          return (go(parts) as unknown[]).map((p) => String(p)).join(sep);
        }
        case 'Fn::Select': {
          const [i, list] = arg as [unknown, unknown];
          return (go(list) as unknown[])[Number(go(i))];
        }
        case 'Fn::Split': {
          const [sep, s] = arg as [string, unknown];
          return str(s).split(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = Array.isArray(arg) ? (arg as [string, Record<string, unknown>]) : [String(arg), {}];
          return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
            if (name in vars) return str(vars[name]);
            const dot = name.indexOf('.');
            return dot === -1 ? ref(name) : getAtt(name.slice(0, dot), name.slice(dot + 1));
          });
        }
        default:
          if (k.startsWith('Fn::') || k === 'Condition') {
            throw new LocalStackError(`${where}: the local runtime does not resolve ${k}`);
          }
      }
    }
    return Object.fromEntries(keys.map((key) => [key, go(o[key])]));
  };
  return go(value);
}

/** The logical id a `Ref` or `Fn::GetAtt` points at, or undefined for anything else. */
export function referencedId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.Ref === 'string') return o.Ref;
  const att = o['Fn::GetAtt'];
  if (Array.isArray(att)) return String(att[0]);
  if (typeof att === 'string') return att.split('.')[0];
  return undefined;
}

/** The logical ids an `Fn::Join`'s list refers to, in order (a single reference: its id alone). */
export function referencedIds(value: unknown): string[] {
  const one = referencedId(value);
  if (one !== undefined) return [one];
  const join = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['Fn::Join'] : undefined;
  if (!Array.isArray(join) || !Array.isArray(join[1])) return [];
  return (join[1] as unknown[]).flatMap((part) => referencedIds(part));
}

// ---------------------------------------------------------------------------------------------
// What the local runtime runs, read from the template.

export interface FunctionSpec {
  id: string;
  /** The function's role in hookrelay (its FUNCTION_TAG), e.g. `api`. */
  role: string;
  /** `index.handler`: the module file (without extension) and the export. */
  handler: string;
  /** The asset directory of its bundled code, relative to the assembly. */
  assetDir: string | undefined;
  timeoutS: number;
  memoryMb: number;
  /** Unresolved: resolve with a naming. */
  environment: Record<string, unknown>;
  roleId: string | undefined;
  /** Asynchronous invocations (EventBridge, schedules): retries after a failed one. */
  asyncRetries: number;
  /** Asynchronous invocations that still fail land on this queue. */
  deadLetterQueueId: string | undefined;
}

export interface QueueSpec {
  id: string;
  visibilityTimeoutS: number | undefined;
  retentionS: number | undefined;
  delayS: number | undefined;
  redrive: { deadLetterQueueId: string; maxReceiveCount: number } | undefined;
  /** A FIFO queue's attributes (FifoQueue, ContentBasedDeduplication, DeduplicationScope...), as strings. */
  fifo: Record<string, string> | undefined;
}

export interface TableSpec {
  id: string;
  attributeDefinitions: { AttributeName: string; AttributeType: string }[];
  keySchema: { AttributeName: string; KeyType: string }[];
  globalSecondaryIndexes: {
    IndexName: string;
    KeySchema: { AttributeName: string; KeyType: string }[];
    Projection: { ProjectionType: string; NonKeyAttributes?: string[] };
  }[];
  ttlAttribute: string | undefined;
}

export interface MappingSpec {
  id: string;
  functionId: string;
  queueId: string;
  batchSize: number;
  batchingWindowS: number;
  reportBatchItemFailures: boolean;
  maxConcurrency: number | undefined;
  enabled: boolean;
}

export interface TargetSpec {
  id: string;
  kind: 'lambda' | 'sqs';
  /** The function or queue. */
  resourceId: string;
  /** A fixed input instead of the event (JSON text). */
  input: string | undefined;
  maxRetries: number;
  maxEventAgeS: number;
  deadLetterQueueId: string | undefined;
}

export interface RuleSpec {
  id: string;
  busId: string | undefined;
  pattern: Record<string, unknown> | undefined;
  /** `rate(1 minute)`, `rate(5 minutes)`; undefined for a pattern rule. */
  schedule: string | undefined;
  /** AWS::Scheduler::Schedule delivers its Input as the event; a rule delivers a Scheduled Event. */
  scheduler: boolean;
  targets: TargetSpec[];
}

export interface RouteSpec {
  /** `$default`, or `GET /health`, `ANY /{proxy+}`. */
  routeKey: string;
  functionId: string;
  /** 2.0 for an HTTP API's Lambda proxy, 1.0 for a REST API's (or an HTTP API's v1 payload). */
  payloadFormat: '1.0' | '2.0';
}

export interface ApiSpec {
  id: string;
  kind: 'http' | 'rest';
  stage: string;
  routes: RouteSpec[];
}

export interface StackModel {
  template: CfnTemplate;
  functions: FunctionSpec[];
  queues: QueueSpec[];
  tables: TableSpec[];
  buses: string[];
  secrets: string[];
  mappings: MappingSpec[];
  rules: RuleSpec[];
  apis: ApiSpec[];
}

const num = (v: unknown): number | undefined => (v === undefined || v === null ? undefined : Number(v));

export function readModel(template: CfnTemplate): StackModel {
  const all = Object.entries(template.Resources);
  const ofType = (type: string) =>
    all.filter(([, r]) => r.Type === type).map(([id, r]) => [id, r.Properties ?? {}] as const);
  const must = (v: string | undefined, what: string): string => {
    if (v === undefined) throw new LocalStackError(`template: ${what} is not a reference the local runtime follows`);
    return v;
  };

  const invokeConfigs = new Map(
    ofType('AWS::Lambda::EventInvokeConfig').map(([, p]) => [referencedId(p.FunctionName), p] as const),
  );
  const functions: FunctionSpec[] = ofType('AWS::Lambda::Function').map(([id, p]) => {
    const tags = (p.Tags ?? []) as { Key: string; Value: string }[];
    const code = (p.Code ?? {}) as { S3Key?: unknown };
    const s3Key = typeof code.S3Key === 'string' ? code.S3Key : undefined;
    const dlc = (p.DeadLetterConfig ?? {}) as { TargetArn?: unknown };
    const invokeConfig = invokeConfigs.get(id);
    return {
      id,
      role: tags.find((t) => t.Key === FUNCTION_TAG)?.Value ?? id,
      handler: String(p.Handler ?? 'index.handler'),
      assetDir: s3Key ? `asset.${s3Key.replace(/\.zip$/, '')}` : undefined,
      timeoutS: num(p.Timeout) ?? 3,
      memoryMb: num(p.MemorySize) ?? 128,
      environment: ((p.Environment ?? {}) as { Variables?: Record<string, unknown> }).Variables ?? {},
      roleId: referencedId(p.Role),
      asyncRetries: num(invokeConfig?.MaximumRetryAttempts) ?? 2,
      deadLetterQueueId: referencedId(dlc.TargetArn),
    };
  });

  const queues: QueueSpec[] = ofType('AWS::SQS::Queue').map(([id, p]) => {
    const rp = p.RedrivePolicy as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown } | undefined;
    return {
      id,
      visibilityTimeoutS: num(p.VisibilityTimeout),
      retentionS: num(p.MessageRetentionPeriod),
      delayS: num(p.DelaySeconds),
      fifo:
        p.FifoQueue === true || p.FifoQueue === 'true'
          ? Object.fromEntries(
              ['FifoQueue', 'ContentBasedDeduplication', 'DeduplicationScope', 'FifoThroughputLimit']
                .filter((k) => p[k] !== undefined)
                .map((k) => [k, String(p[k])]),
            )
          : undefined,
      redrive: rp
        ? {
            deadLetterQueueId: must(referencedId(rp.deadLetterTargetArn), `${id}'s redrive target`),
            maxReceiveCount: Number(rp.maxReceiveCount),
          }
        : undefined,
    };
  });

  const tables: TableSpec[] = ofType('AWS::DynamoDB::Table').map(([id, p]) => ({
    id,
    attributeDefinitions: p.AttributeDefinitions as TableSpec['attributeDefinitions'],
    keySchema: p.KeySchema as TableSpec['keySchema'],
    globalSecondaryIndexes: (p.GlobalSecondaryIndexes ?? []) as TableSpec['globalSecondaryIndexes'],
    ttlAttribute: (p.TimeToLiveSpecification as { AttributeName?: string } | undefined)?.AttributeName,
  }));

  const mappings: MappingSpec[] = ofType('AWS::Lambda::EventSourceMapping').map(([id, p]) => ({
    id,
    functionId: must(referencedId(p.FunctionName), `${id}'s function`),
    queueId: must(referencedId(p.EventSourceArn), `${id}'s event source`),
    batchSize: num(p.BatchSize) ?? 10,
    batchingWindowS: num(p.MaximumBatchingWindowInSeconds) ?? 0,
    reportBatchItemFailures: ((p.FunctionResponseTypes ?? []) as string[]).includes('ReportBatchItemFailures'),
    maxConcurrency: num((p.ScalingConfig as { MaximumConcurrency?: unknown } | undefined)?.MaximumConcurrency),
    enabled: p.Enabled !== false,
  }));

  const kindOf = (resourceId: string): 'lambda' | 'sqs' => {
    const type = template.Resources[resourceId]?.Type;
    if (type === 'AWS::Lambda::Function') return 'lambda';
    if (type === 'AWS::SQS::Queue') return 'sqs';
    throw new LocalStackError(`template: a rule targets ${resourceId} (${type}), which the local runtime cannot run`);
  };
  const target = (t: Record<string, unknown>, i: number): TargetSpec => {
    const resourceId = must(referencedId(t.Arn), `a rule target's Arn`);
    const retry = (t.RetryPolicy ?? {}) as { MaximumRetryAttempts?: unknown; MaximumEventAgeInSeconds?: unknown };
    return {
      id: String(t.Id ?? `Target${i}`),
      kind: kindOf(resourceId),
      resourceId,
      input: typeof t.Input === 'string' ? t.Input : undefined,
      maxRetries: num(retry.MaximumRetryAttempts) ?? 185,
      maxEventAgeS: num(retry.MaximumEventAgeInSeconds) ?? 86_400,
      deadLetterQueueId: referencedId((t.DeadLetterConfig as { Arn?: unknown } | undefined)?.Arn),
    };
  };
  const rules: RuleSpec[] = [
    ...ofType('AWS::Events::Rule')
      .filter(([, p]) => p.State !== 'DISABLED')
      .map(([id, p]) => ({
        id,
        busId: referencedId(p.EventBusName),
        pattern: p.EventPattern as Record<string, unknown> | undefined,
        schedule: typeof p.ScheduleExpression === 'string' ? p.ScheduleExpression : undefined,
        scheduler: false,
        targets: ((p.Targets ?? []) as Record<string, unknown>[]).map(target),
      })),
    ...ofType('AWS::Scheduler::Schedule')
      .filter(([, p]) => p.State !== 'DISABLED')
      .map(([id, p]) => ({
        id,
        busId: undefined,
        pattern: undefined,
        schedule: String(p.ScheduleExpression),
        scheduler: true,
        targets: [target((p.Target ?? {}) as Record<string, unknown>, 0)],
      })),
  ];

  const apis: ApiSpec[] = [];
  const integrations = new Map(ofType('AWS::ApiGatewayV2::Integration').map(([id, p]) => [id, p] as const));
  for (const [apiId, p] of ofType('AWS::ApiGatewayV2::Api')) {
    if (p.ProtocolType !== 'HTTP') continue;
    const routes: RouteSpec[] = ofType('AWS::ApiGatewayV2::Route')
      .filter(([, r]) => referencedId(r.ApiId) === apiId)
      .map(([id, r]) => {
        const integrationId = integrationOf(r.Target, id);
        const integration = integrations.get(integrationId);
        if (!integration || integration.IntegrationType !== 'AWS_PROXY') {
          throw new LocalStackError(`template: route ${id} has no Lambda proxy integration`);
        }
        return {
          routeKey: String(r.RouteKey),
          functionId: must(referencedId(integration.IntegrationUri), `${integrationId}'s function`),
          payloadFormat: integration.PayloadFormatVersion === '1.0' ? '1.0' : '2.0',
        };
      });
    const stage = ofType('AWS::ApiGatewayV2::Stage').find(([, s]) => referencedId(s.ApiId) === apiId)?.[1];
    apis.push({ id: apiId, kind: 'http', stage: String(stage?.StageName ?? '$default'), routes });
  }
  for (const [apiId] of ofType('AWS::ApiGateway::RestApi')) apis.push(restApi(template, apiId));

  return {
    template,
    functions,
    queues,
    tables,
    buses: ofType('AWS::Events::EventBus').map(([id]) => id),
    secrets: ofType('AWS::SecretsManager::Secret').map(([id]) => id),
    mappings,
    rules,
    apis,
  };
}

/** `integrations/<id>` as the template writes it (a Join of the text and a Ref). */
function integrationOf(target: unknown, routeId: string): string {
  const join = (target as { 'Fn::Join'?: [string, unknown[]] } | undefined)?.['Fn::Join'];
  const id = join ? join[1].map(referencedId).find((x) => x !== undefined) : undefined;
  if (!id) throw new LocalStackError(`template: route ${routeId} has a target the local runtime cannot follow`);
  return id;
}

/**
 * A REST API's methods as routes: each AWS::ApiGateway::Method with an AWS_PROXY integration,
 * at the path its resources spell (`/{proxy+}`, `/`), any method as `ANY`.
 */
function restApi(template: CfnTemplate, apiId: string): ApiSpec {
  const all = Object.entries(template.Resources);
  const resources = new Map(
    all.filter(([, r]) => r.Type === 'AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties ?? {}] as const),
  );
  const pathOf = (resourceRef: unknown): string => {
    const id = referencedId(resourceRef);
    const r = id ? resources.get(id) : undefined;
    if (!r) return ''; // the root resource (Fn::GetAtt RestApi.RootResourceId)
    return `${pathOf(r.ParentId)}/${String(r.PathPart)}`;
  };
  const routes: RouteSpec[] = [];
  for (const [id, r] of all) {
    if (r.Type !== 'AWS::ApiGateway::Method') continue;
    const p = r.Properties ?? {};
    if (referencedId(p.RestApiId) !== apiId) continue;
    const integration = (p.Integration ?? {}) as { Type?: string; Uri?: unknown };
    if (integration.Type !== 'AWS_PROXY') continue;
    const functionId = JSON.stringify(integration.Uri).match(/"Fn::GetAtt":\["([^"]+)","Arn"\]/)?.[1];
    if (!functionId)
      throw new LocalStackError(`template: method ${id} has an integration the local runtime cannot follow`);
    const path = pathOf(p.ResourceId) || '/';
    routes.push({ routeKey: `${String(p.HttpMethod)} ${path}`, functionId, payloadFormat: '1.0' });
  }
  const stage = all.find(
    ([, r]) => r.Type === 'AWS::ApiGateway::Stage' && referencedId(r.Properties?.RestApiId) === apiId,
  );
  return { id: apiId, kind: 'rest', stage: String(stage?.[1].Properties?.StageName ?? 'prod'), routes };
}

/** Seconds between runs of a `rate(...)` expression; cron expressions are not run locally. */
export function rateSeconds(expression: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!m) throw new LocalStackError(`schedule ${expression}: the local runtime runs rate(...) expressions only`);
  const unit = m[2]!.startsWith('minute') ? 60 : m[2]!.startsWith('hour') ? 3600 : 86_400;
  return Number(m[1]) * unit;
}
