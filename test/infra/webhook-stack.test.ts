import { App, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { beforeAll, describe, expect, it } from 'vitest';
import { logicalIdOf } from '../../infra/constructs/hookrelay-function';
import { ENV, topology } from '../../infra/topology';
import type { HookrelayStack } from '../../infra/webhook-stack';
import {
  actionsOf,
  arnOf,
  identityStatements,
  refOf,
  resourcesOf,
  resourcesOfStatement,
  roleCan,
  SKIP_BUNDLING,
  synth,
  type Statement,
} from './helpers';

const HANDLERS = ['api', 'delivery', 'ingest', 'housekeeping'] as const;
type Handler = (typeof HANDLERS)[number];

let stack: HookrelayStack;
let template: Template;
/** Logical ids of the stack's main resources, found through the constructs (not by name). */
let ids: {
  table: string;
  work: string;
  workShards: string[];
  retry: string;
  isolated: string;
  dlq: string;
  ingestDlq: string;
  ingestQueue: string;
  bus: string;
  secret: string;
  httpApi: string;
  fn: Record<Handler, string>;
  role: Record<Handler, string>;
};

beforeAll(() => {
  ({ stack, template } = synth());
  const h = stack.hookrelay;
  const fns = {
    api: h.api.function,
    delivery: h.worker.function,
    ingest: h.ingest.function,
    housekeeping: h.housekeeping.function,
  };
  ids = {
    table: logicalIdOf(h.store.table),
    work: logicalIdOf(h.queues.work),
    workShards: h.queues.workShards.map((q) => logicalIdOf(q)),
    retry: logicalIdOf(h.queues.retry),
    isolated: logicalIdOf(h.queues.isolated),
    dlq: logicalIdOf(h.queues.deadLetter),
    ingestDlq: logicalIdOf(h.ingest.deadLetter),
    ingestQueue: logicalIdOf(h.ingest.queue),
    bus: logicalIdOf(h.ingest.bus),
    secret: logicalIdOf(h.api.adminKey),
    httpApi: logicalIdOf(h.api.httpApi!),
    fn: Object.fromEntries(HANDLERS.map((n) => [n, logicalIdOf(fns[n].fn)])) as Record<Handler, string>,
    role: Object.fromEntries(HANDLERS.map((n) => [n, logicalIdOf(fns[n].role)])) as Record<Handler, string>,
  };
});

describe('the table', () => {
  it('has string pk/sk keys, one GSI (open) projecting keys only, and bills per request', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: topology.table.partitionKey, KeyType: 'HASH' },
        { AttributeName: topology.table.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      GlobalSecondaryIndexes: Match.arrayWith(
        Object.values(topology.table.indexes).map((ix) => ({
          IndexName: ix.name,
          KeySchema: [
            { AttributeName: ix.partitionKey, KeyType: 'HASH' },
            { AttributeName: ix.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        })),
      ),
    });
    // The feed is the events' own partition: no index entry per event.
    expect(Object.keys(topology.table.indexes)).toEqual(['open']);
    const attrs = resourcesOf(template, 'AWS::DynamoDB::Table')[ids.table]!.Properties.AttributeDefinitions;
    expect(attrs).toEqual(
      expect.arrayContaining(['pk', 'sk', 'openPk', 'openSk'].map((n) => ({ AttributeName: n, AttributeType: 'S' }))),
    );
  });

  it('keeps point-in-time recovery on, expires items by TTL on the topology attribute, and is encrypted with its own KMS key', () => {
    const keyId = logicalIdOf(stack.hookrelay.store.encryptionKey);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: topology.table.ttlAttribute, Enabled: true },
      // A customer managed key: the signing secrets in the table are under a key the operator controls.
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: arnOf(keyId) },
    });
  });

  it('has a customer managed key with rotation on, kept when the stack is deleted (a retained table needs it)', () => {
    const keys = resourcesOf(template, 'AWS::KMS::Key');
    expect(Object.keys(keys)).toEqual([logicalIdOf(stack.hookrelay.store.encryptionKey)]);
    const key = Object.values(keys)[0]!;
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(key.Properties.KeySpec).toBeUndefined(); // symmetric: the only kind DynamoDB takes
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
  });

  it('lets every function use the table key with the actions spelled out, and nothing else use it', () => {
    const keyArn = arnOf(logicalIdOf(stack.hookrelay.store.encryptionKey));
    for (const h of HANDLERS) {
      for (const action of ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey']) {
        expect(roleCan(template, ids.role[h], action, keyArn), `${h}: ${action}`).toBe(true);
      }
    }
    const onKey = identityStatements(template).filter(
      (s) => JSON.stringify(s.statement.Resource) === JSON.stringify(keyArn),
    );
    expect(new Set(onKey.map((s) => s.owner)).size).toBe(HANDLERS.length);
  });

  it("deletes the key with the table when told to (after KMS's waiting period)", () => {
    const { template: t } = synth({ hookrelay: { removalPolicy: RemovalPolicy.DESTROY } });
    const key = Object.values(resourcesOf(t, 'AWS::KMS::Key'))[0]!;
    expect(key.DeletionPolicy).toBe('Delete');
  });

  it('is retained when the stack is deleted, unless told otherwise', () => {
    expect(resourcesOf(template, 'AWS::DynamoDB::Table')[ids.table]!.DeletionPolicy).toBe('Retain');
  });
});

describe('the queues', () => {
  it('redrive work and retry messages to the DLQ after the topology maxReceiveCount', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    for (const [id, spec] of [
      ...ids.workShards.map((shard) => [shard, topology.queues.work] as const),
      [ids.retry, topology.queues.retry],
    ] as const) {
      expect(queues[id]!.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: arnOf(ids.dlq),
        maxReceiveCount: spec.maxReceiveCount,
      });
      expect(queues[id]!.Properties.VisibilityTimeout).toBe(spec.visibilityTimeoutS);
      expect(queues[id]!.Properties.MessageRetentionPeriod).toBe(spec.retentionDays * 86_400);
    }
  });

  it('hide a received message for at least six times the delivery function timeout', () => {
    const fnTimeout = resourcesOf(template, 'AWS::Lambda::Function')[ids.fn.delivery]!.Properties.Timeout as number;
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    for (const id of [...ids.workShards, ids.retry]) {
      expect(queues[id]!.Properties.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * fnTimeout);
    }
  });

  it('keep dead letters for the topology retention, and the DLQs themselves redrive nowhere', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    for (const id of [ids.dlq, ids.ingestDlq]) {
      expect(queues[id]!.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
      expect(queues[id]!.Properties.RedrivePolicy).toBeUndefined();
    }
  });

  it('are all encrypted at rest and refuse requests that are not over TLS', () => {
    const queues = resourcesOf(template, 'AWS::SQS::Queue');
    // The work queue's shards, retry, the isolation lane, DLQ, ingest and its DLQ, the ordered
    // lane and its DLQ.
    expect(Object.keys(queues)).toHaveLength(topology.delivery.workShards + 7);
    for (const q of Object.values(queues)) expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    for (const id of Object.keys(queues)) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [refOf(id)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      });
    }
  });
});

describe('the delivery worker', () => {
  it('consumes the work, retry and isolation queues, reporting per-message failures, in topology batches', () => {
    const standard = [
      ...ids.workShards.map((id) => JSON.stringify(arnOf(id))),
      JSON.stringify(arnOf(ids.retry)),
      JSON.stringify(arnOf(ids.isolated)),
    ];
    const mappings = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).filter(
      (m) =>
        JSON.stringify(m.Properties.FunctionName) === JSON.stringify(refOf(ids.fn.delivery)) &&
        standard.includes(JSON.stringify(m.Properties.EventSourceArn)),
    );
    // One event source per shard of the work queue, each with its own slots.
    expect(topology.delivery.workShards).toBeGreaterThan(1);
    expect(ids.workShards[0]).toBe(ids.work);
    expect(mappings).toHaveLength(topology.delivery.workShards + 2);
    expect(mappings.map((m) => m.Properties.EventSourceArn)).toEqual(
      expect.arrayContaining([...ids.workShards.map((id) => arnOf(id)), arnOf(ids.retry), arnOf(ids.isolated)]),
    );
    for (const m of mappings) {
      const isolated = JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(arnOf(ids.isolated));
      expect(m.Properties).toMatchObject({
        FunctionName: refOf(ids.fn.delivery),
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BatchSize: topology.delivery.batchSize,
        MaximumBatchingWindowInSeconds: topology.delivery.maxBatchingWindowS,
        // The isolation lane's own small cap: rates are shared out by it (functions/flow/gate.ts).
        ScalingConfig: {
          MaximumConcurrency: isolated ? topology.delivery.isolatedConcurrency : topology.delivery.maxConcurrency,
        },
      });
    }
  });

  it('caps concurrency at the maxConcurrency prop', () => {
    const { template: t } = synth({ hookrelay: { maxConcurrency: 7 } });
    const mappings = Object.values(resourcesOf(t, 'AWS::Lambda::EventSourceMapping'));
    expect(mappings.map((m) => m.Properties.ScalingConfig)).toEqual([
      // Each shard of the work queue, then the retry queue.
      ...Array.from({ length: topology.delivery.workShards }, () => ({ MaximumConcurrency: 7 })),
      { MaximumConcurrency: 7 },
      // The isolation lane's own cap, from the topology.
      { MaximumConcurrency: topology.delivery.isolatedConcurrency },
      // The ordered lane's own cap, from the topology: strict endpoints' rates are shared out by it.
      { MaximumConcurrency: topology.delivery.orderedConcurrency },
      // The ingest function's own cap, from the topology.
      { MaximumConcurrency: topology.ingest.maxConcurrency },
    ]);
  });
});

describe('the event bus', () => {
  it('puts every event whose source is not prefixed aws. on the ingest queue, with retries and a DLQ', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: refOf(ids.bus),
      EventPattern: { source: [{ 'anything-but': { prefix: 'aws.' } }] },
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: arnOf(ids.ingestQueue),
          DeadLetterConfig: { Arn: arnOf(ids.ingestDlq) },
          RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 },
        }),
      ],
    });
  });

  it('lets only the rule send to the ingest queue, and EventBridge dead-letter to the ingest DLQ', () => {
    const ruleId = logicalIdOf(stack.hookrelay.ingest.rule);
    for (const queue of [ids.ingestQueue, ids.ingestDlq]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [refOf(queue)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Allow',
              Principal: { Service: 'events.amazonaws.com' },
              Action: Match.anyValue(),
              Condition: { ArnEquals: { 'aws:SourceArn': arnOf(ruleId) } },
            }),
          ]),
        },
      });
    }
  });

  it('keeps events in the ingest queue longer than the retry horizon, and redrives to the ingest DLQ after the function gave up', () => {
    const q = resourcesOf(template, 'AWS::SQS::Queue')[ids.ingestQueue]!.Properties;
    const spec = topology.queues.ingest;
    expect(q.RedrivePolicy).toEqual({
      deadLetterTargetArn: arnOf(ids.ingestDlq),
      maxReceiveCount: spec.maxReceiveCount,
    });
    expect(spec.maxReceiveCount).toBeGreaterThan(topology.ingest.retry.attempts);
    expect(q.MessageRetentionPeriod).toBe(spec.retentionDays * 86_400);
    expect(q.MaximumMessageSize).toBe(1024 * 1024);
    const fnTimeout = resourcesOf(template, 'AWS::Lambda::Function')[ids.fn.ingest]!.Properties.Timeout as number;
    expect(q.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * fnTimeout);
    // The whole horizon, as the function computes it, within the queue's retention.
    const r = topology.ingest.retry;
    let horizon = 0;
    for (let n = 1; n < r.attempts; n++) horizon += Math.min(r.maxDelayS, r.firstDelayS * 2 ** (n - 1));
    expect(horizon).toBeGreaterThan(20 * 3600);
    expect(horizon).toBeLessThan(spec.retentionDays * 86_400);
  });

  it('drains the ingest queue with the ingest function, reporting per-message failures', () => {
    const mappings = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify(refOf(ids.fn.ingest)),
    );
    expect(mappings).toEqual([
      expect.objectContaining({
        Properties: expect.objectContaining({
          EventSourceArn: arnOf(ids.ingestQueue),
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          BatchSize: topology.ingest.batchSize,
          ScalingConfig: { MaximumConcurrency: topology.ingest.maxConcurrency },
        }),
      }),
    ]);
    const env = (
      resourcesOf(template, 'AWS::Lambda::Function')[ids.fn.ingest]!.Properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(env[ENV.ingestQueueUrl]).toEqual(refOf(ids.ingestQueue));
    expect(env[ENV.ingestDlqUrl]).toEqual(refOf(ids.ingestDlq));
    const r = topology.ingest.retry;
    expect(env[ENV.ingestRetry]).toBe(`${r.firstDelayS},${r.maxDelayS},${r.attempts}`);
  });

  it('no longer invokes the ingest function asynchronously: no function has a Lambda DLQ', () => {
    const withDlq = Object.entries(resourcesOf(template, 'AWS::Lambda::Function')).filter(
      ([, f]) => f.Properties.DeadLetterConfig,
    );
    expect(withDlq).toEqual([]);
    const ingestPermissions = Object.values(resourcesOf(template, 'AWS::Lambda::Permission')).filter((p) =>
      JSON.stringify(p.Properties.FunctionName).includes(ids.fn.ingest),
    );
    expect(ingestPermissions).toEqual([]);
  });
});

describe('the housekeeping schedule', () => {
  const scheduleOf = (t: Template) =>
    Object.values(resourcesOf(t, 'AWS::Events::Rule'))
      .map((r) => r.Properties.ScheduleExpression)
      .filter(Boolean);

  it('runs housekeeping every minute by default', () => {
    expect(scheduleOf(template)).toEqual(['rate(1 minute)']);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: arnOf(ids.fn.housekeeping) })],
    });
  });

  it.each([
    [30, 'rate(1 minute)', 60],
    [90, 'rate(2 minutes)', 120],
    [600, 'rate(10 minutes)', 600],
  ])('rounds a rate of %i s up to whole minutes (%s) and tells the functions %i s', (rateS, expression, envS) => {
    const { template: t } = synth({ hookrelay: { housekeepingRateS: rateS } });
    expect(scheduleOf(t)).toEqual([expression]);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.housekeepingRateS]: String(envS) }) },
    });
  });
});

describe('the HTTP API', () => {
  it('sends every request ($default route) to the api function, from a throttled stage with access logs', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      IntegrationUri: arnOf(ids.fn.api),
      PayloadFormatVersion: '2.0',
    });
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('\\$context\\.requestId') },
    });
  });

  it('gives the api function the admin key secret ARN', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 48 }),
    });
    const fns = resourcesOf(template, 'AWS::Lambda::Function');
    const env = (h: Handler) =>
      (fns[ids.fn[h]]!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env('api')[ENV.apiKeySecretArn]).toEqual(refOf(ids.secret));
    for (const h of ['delivery', 'ingest', 'housekeeping'] as const)
      expect(env(h)[ENV.apiKeySecretArn]).toBeUndefined();
  });
});

describe('the functions', () => {
  it('run Node.js 24 on ARM with X-Ray active tracing, JSON logs (no per-invocation platform lines) to a log group with retention', () => {
    const fns = resourcesOf(template, 'AWS::Lambda::Function');
    expect(Object.keys(fns).sort()).toEqual(Object.values(ids.fn).sort());
    for (const f of Object.values(fns)) {
      expect(f.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON', SystemLogLevel: 'WARN', LogGroup: { Ref: expect.any(String) } },
      });
    }
    for (const lg of Object.values(resourcesOf(template, 'AWS::Logs::LogGroup'))) {
      expect(lg.Properties.RetentionInDays).toBe(30);
    }
  });

  it('take the delivery timeout from the topology', () => {
    const fns = resourcesOf(template, 'AWS::Lambda::Function');
    expect(fns[ids.fn.delivery]!.Properties.Timeout).toBe(topology.delivery.functionTimeoutS);
    expect(fns[ids.fn.ingest]!.Properties.Timeout).toBe(topology.delivery.functionTimeoutS);
  });

  it('share one configuration, named by ENV, with Powertools settings', () => {
    const fns = resourcesOf(template, 'AWS::Lambda::Function');
    for (const f of Object.values(fns)) {
      const vars = (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(vars).toMatchObject({
        [ENV.tableName]: refOf(ids.table),
        [ENV.workQueueUrl]: refOf(ids.work),
        // Every shard, the work queue first: each function sends an app's first attempts to its own.
        [ENV.workShardUrls]: { 'Fn::Join': [',', ids.workShards.map((id) => refOf(id))] },
        [ENV.retryQueueUrl]: refOf(ids.retry),
        [ENV.dlqUrl]: refOf(ids.dlq),
        [ENV.retrySchedule]: topology.defaultRetryScheduleS.join(','),
        [ENV.deliveryTimeoutMs]: '10000',
        [ENV.allowPrivateTargets]: 'false',
        [ENV.housekeepingRateS]: '60',
        [ENV.retentionDays]: String(topology.retention.days),
        POWERTOOLS_SERVICE_NAME: 'hookrelay',
        POWERTOOLS_METRICS_NAMESPACE: topology.metrics.namespace,
      });
    }
  });

  it('pass the props through to that configuration', () => {
    const { template: t } = synth({
      hookrelay: { retryScheduleS: [1, 2, 3], deliveryTimeoutMs: 2500, allowPrivateTargets: true, retentionDays: 7 },
    });
    const all = Object.values(resourcesOf(t, 'AWS::Lambda::Function'));
    expect(all).toHaveLength(4);
    for (const f of all) {
      expect((f.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        [ENV.retrySchedule]: '1,2,3',
        [ENV.deliveryTimeoutMs]: '2500',
        [ENV.allowPrivateTargets]: 'true',
        [ENV.retentionDays]: '7',
      });
    }
  });
});

describe('the portal rate limit', () => {
  it('reaches every function from the portal.rateLimit prop, and a bad one fails the synth naming it', () => {
    const { template: t } = synth({ hookrelay: { portal: { rateLimit: { capacity: 30, refillPerS: 2.5 } } } });
    for (const f of Object.values(resourcesOf(t, 'AWS::Lambda::Function')))
      expect((f.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        [ENV.portalRateLimit]: '30,2.5',
      });
    expect(() => synth({ hookrelay: { portal: { rateLimit: { capacity: 1.5, refillPerS: 1 } } } })).toThrow(
      /portal\.rateLimit must be "<burst>,<calls per second>"/,
    );
  });

  it('comes from -c hookrelay:portalRateLimit=<burst>,<per second>', () => {
    const withContext = (v: string) =>
      buildApp(new App({ context: { ...SKIP_BUNDLING, 'hookrelay:portalRateLimit': v } })).stack;
    const t = Template.fromStack(withContext(' 40, 4 '));
    for (const f of Object.values(resourcesOf(t, 'AWS::Lambda::Function')))
      expect((f.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        [ENV.portalRateLimit]: '40,4',
      });
    expect(() => withContext('lots')).toThrow(/context hookrelay:portalRateLimit must be/);
  });
});

describe('IAM', () => {
  it('grants no action with a wildcard, and "*" resources only to X-Ray', () => {
    const statements = identityStatements(template).filter((s) => s.statement.Effect === 'Allow');
    expect(statements.length).toBeGreaterThan(10);
    for (const { owner, statement } of statements) {
      for (const action of actionsOf(statement)) expect(action, `${owner}: ${action}`).not.toContain('*');
      if (resourcesOfStatement(statement).includes('*')) {
        expect(actionsOf(statement).sort(), owner).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
      }
    }
  });

  it('grants no wildcard action in resource policies either (Deny statements aside: enforceSSL denies sqs:*)', () => {
    const allows = Object.values(resourcesOf(template, 'AWS::SQS::QueuePolicy'))
      .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((st) => st.Effect === 'Allow');
    expect(allows.length).toBeGreaterThan(0);
    for (const st of allows) for (const action of actionsOf(st)) expect(action).not.toContain('*');
  });

  it('attaches no managed policy to any function role', () => {
    for (const role of Object.values(resourcesOf(template, 'AWS::IAM::Role'))) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });

  it('lets every function read and write the table, each with the operations its code calls', () => {
    const can = (h: Handler, action: string) => roleCan(template, ids.role[h], action, arnOf(ids.table));
    // Housekeeping puts one item: the record of since when events carry activity markers.
    expect(HANDLERS.filter((h) => can(h, 'dynamodb:PutItem'))).toEqual(['api', 'delivery', 'ingest', 'housekeeping']);
    // The bus's ingest updates an event id's claim when it takes over one a dead ingest left.
    expect(HANDLERS.filter((h) => can(h, 'dynamodb:UpdateItem'))).toEqual([
      'api',
      'delivery',
      'ingest',
      'housekeeping',
    ]);
    // The delivery worker does not query; it deletes only a strict endpoint's held key once its
    // head finishes (test/iam holds the rest of the detail).
    expect(roleCan(template, ids.role.delivery, 'dynamodb:Query', arnOf(ids.table))).toBe(false);
    expect(roleCan(template, ids.role.delivery, 'dynamodb:DeleteItem', arnOf(ids.table))).toBe(true);
    expect(roleCan(template, ids.role.api, 'dynamodb:Query', arnOf(ids.table))).toBe(true);
  });

  it('lets only the api function read the admin key', () => {
    const can = (h: Handler) => roleCan(template, ids.role[h], 'secretsmanager:GetSecretValue', refOf(ids.secret));
    expect(HANDLERS.filter(can)).toEqual(['api']);
  });

  it('lets each function send only to the queues it feeds', () => {
    const senders = (queue: string) =>
      HANDLERS.filter((h) => roleCan(template, ids.role[h], 'sqs:SendMessage', arnOf(queue)));
    expect(senders(ids.work)).toEqual(['api', 'ingest', 'housekeeping']);
    expect(senders(ids.retry)).toEqual(['delivery', 'housekeeping']);
    // The api: the skip route fails a strict endpoint's held head and sends its dead letter.
    expect(senders(ids.dlq)).toEqual(['api', 'delivery']);
    expect(senders(ids.ingestDlq)).toEqual(['ingest']);
    expect(senders(ids.ingestQueue)).toEqual([]);
  });

  it('lets only the delivery function consume the delivery queues, the ingest function the ingest queue', () => {
    const consumers = (queue: string) =>
      HANDLERS.filter((h) => roleCan(template, ids.role[h], 'sqs:DeleteMessage', arnOf(queue)));
    expect(consumers(ids.work)).toEqual(['delivery']);
    expect(consumers(ids.retry)).toEqual(['delivery']);
    expect(consumers(ids.dlq)).toEqual([]);
    expect(consumers(ids.ingestQueue)).toEqual(['ingest']);
    expect(roleCan(template, ids.role.ingest, 'sqs:ChangeMessageVisibility', arnOf(ids.ingestQueue))).toBe(true);
    // No code of housekeeping reads the DLQ (test/iam found the grant unused): none is granted.
    expect(roleCan(template, ids.role.housekeeping, 'sqs:GetQueueAttributes', arnOf(ids.dlq))).toBe(false);
  });
});

describe('outputs', () => {
  it('name the API URL, the event bus, the DLQ and the table', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.ApiUrl!.Value).toEqual({ 'Fn::GetAtt': [ids.httpApi, 'ApiEndpoint'] });
    expect(outputs.EventBusName!.Value).toEqual(refOf(ids.bus));
    expect(outputs.DeadLetterQueueUrl!.Value).toEqual(refOf(ids.dlq));
    expect(outputs.TableName!.Value).toEqual(refOf(ids.table));
    expect(outputs.AdminKeySecretArn!.Value).toEqual(refOf(ids.secret));
  });
});

describe('props', () => {
  it.each([
    [{ deliveryTimeoutMs: topology.delivery.functionTimeoutS * 1000 }, /deliveryTimeoutMs/],
    [{ retryScheduleS: [5, -1] }, /retryScheduleS/],
    [{ housekeepingRateS: 0 }, /housekeepingRateS/],
    [{ maxConcurrency: 1 }, /maxConcurrency/],
    [{ retentionDays: 0 }, /retentionDays/],
  ])('rejects %j', (hookrelay, message) => {
    expect(() => synth({ hookrelay })).toThrow(message);
  });

  it('destroys the table and the log groups with the stack when asked to', () => {
    const { template: t } = synth({ hookrelay: { removalPolicy: RemovalPolicy.DESTROY } });
    expect(Object.values(resourcesOf(t, 'AWS::DynamoDB::Table'))[0]!.DeletionPolicy).toBe('Delete');
    for (const lg of Object.values(resourcesOf(t, 'AWS::Logs::LogGroup'))) expect(lg.DeletionPolicy).toBe('Delete');
  });
});
