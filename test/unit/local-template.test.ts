/**
 * The pieces of the local runtime that read the template: reference resolution, event patterns
 * and route keys. The whole runtime is exercised end to end by test/e2e (on the assembly).
 */
import { describe, expect, it } from 'vitest';
import { matchesPattern } from '../../infra/local/rules';
import { routeMatcher } from '../../infra/local/stack';
import {
  deployedNaming,
  rateSeconds,
  readModel,
  referencedIds,
  resolve,
  type CfnTemplate,
} from '../../infra/local/template';

const template: CfnTemplate = {
  Resources: {
    Q: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 180 } },
    D: { Type: 'AWS::SQS::Queue' },
    T: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'given' } },
    F: {
      Type: 'AWS::Lambda::Function',
      Properties: {
        Handler: 'index.handler',
        Timeout: 30,
        MemorySize: 512,
        Code: { S3Key: 'abc.zip' },
        Tags: [{ Key: 'hookrelay:function', Value: 'delivery' }],
        Environment: { Variables: { Q: { Ref: 'Q' } } },
        DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': ['D', 'Arn'] } },
      },
    },
    M: {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        EventSourceArn: { 'Fn::GetAtt': ['Q', 'Arn'] },
        FunctionName: { Ref: 'F' },
        BatchSize: 7,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 3 },
      },
    },
  },
};
const naming = deployedNaming('111122223333', 'eu-west-1', 'S');

describe('the template as the local runtime reads it', () => {
  it('resolves Ref, GetAtt, Join and Sub the way CloudFormation would name the resources', () => {
    expect(resolve(template, naming, { Ref: 'Q' })).toBe('https://sqs.eu-west-1.amazonaws.com/111122223333/S-Q');
    expect(resolve(template, naming, { 'Fn::GetAtt': ['T', 'Arn'] })).toBe(
      'arn:aws:dynamodb:eu-west-1:111122223333:table/given',
    );
    expect(resolve(template, naming, { 'Fn::Join': ['/', [{ Ref: 'AWS::Region' }, { Ref: 'T' }]] })).toBe(
      'eu-west-1/given',
    );
    expect(resolve(template, naming, { 'Fn::Sub': ['${AWS::AccountId}:${Q.QueueName}:${x}', { x: 'y' }] })).toBe(
      '111122223333:S-Q:y',
    );
    expect(() => resolve(template, naming, { 'Fn::If': ['c', 1, 2] })).toThrow(/does not resolve Fn::If/);
    expect(() => resolve(template, naming, { Ref: 'Nope' })).toThrow(/no resource Nope/);
  });

  it('reads functions and event source mappings with their settings', () => {
    const model = readModel(template);
    expect(model.functions).toEqual([
      expect.objectContaining({
        id: 'F',
        role: 'delivery',
        assetDir: 'asset.abc',
        timeoutS: 30,
        memoryMb: 512,
        deadLetterQueueId: 'D',
        asyncRetries: 2,
      }),
    ]);
    expect(model.mappings).toEqual([
      expect.objectContaining({
        queueId: 'Q',
        functionId: 'F',
        batchSize: 7,
        reportBatchItemFailures: true,
        maxConcurrency: 3,
      }),
    ]);
    expect(model.queues.find((q) => q.id === 'Q')?.visibilityTimeoutS).toBe(180);
  });

  it('runs rate expressions and refuses cron ones', () => {
    expect(rateSeconds('rate(1 minute)')).toBe(60);
    expect(rateSeconds('rate(2 hours)')).toBe(7200);
    expect(() => rateSeconds('cron(0 * * * ? *)')).toThrow(/rate/);
  });
});

describe('referenced ids', () => {
  it("reads a list's references in order (the work queue's shards), and a single one alone", () => {
    const list = {
      'Fn::Join': [',', [{ Ref: 'Work' }, { Ref: 'WorkShard1' }, { 'Fn::GetAtt': ['WorkShard2', 'QueueUrl'] }]],
    };
    expect(referencedIds(list)).toEqual(['Work', 'WorkShard1', 'WorkShard2']);
    expect(referencedIds({ Ref: 'Work' })).toEqual(['Work']);
    expect(referencedIds('http://sqs/work')).toEqual([]);
    expect(referencedIds(undefined)).toEqual([]);
  });
});

describe('event patterns', () => {
  const event = { source: 'shop', 'detail-type': 'order.created', detail: { n: 5, tags: ['a', 'b'] } };

  it('matches the ingest rule: any source not prefixed aws.', () => {
    const pattern = { source: [{ 'anything-but': { prefix: 'aws.' } }] };
    expect(matchesPattern(pattern, event)).toBe(true);
    expect(matchesPattern(pattern, { ...event, source: 'aws.events' })).toBe(false);
    expect(matchesPattern(pattern, { 'detail-type': 'x' })).toBe(false);
  });

  it('matches values, prefixes, nested fields, arrays, numbers and exists', () => {
    expect(matchesPattern({ 'detail-type': ['order.created', 'x'] }, event)).toBe(true);
    expect(matchesPattern({ detail: { tags: ['b'] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { n: [{ numeric: ['>', 4, '<=', 5] }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { n: [{ numeric: ['>', 5] }] } }, event)).toBe(false);
    expect(matchesPattern({ detail: { missing: [{ exists: false }] } }, event)).toBe(true);
    expect(matchesPattern({ detail: { n: [{ exists: false }] } }, event)).toBe(false);
    expect(matchesPattern({ source: [{ prefix: 'sh' }] }, event)).toBe(true);
    expect(matchesPattern({ source: ['other'] }, event)).toBe(false);
  });
});

describe('route keys', () => {
  it('matches $default, exact routes, ANY and {proxy+}', () => {
    expect(routeMatcher('$default')('GET', '/anything')).toEqual({});
    expect(routeMatcher('GET /health')('GET', '/health')).toEqual({});
    expect(routeMatcher('GET /health')('POST', '/health')).toBeUndefined();
    expect(routeMatcher('GET /v1/apps/{appId}')('GET', '/v1/apps/a1')).toEqual({ appId: 'a1' });
    expect(routeMatcher('ANY /{proxy+}')('DELETE', '/v1/apps/a1/keys/k')).toEqual({ proxy: 'v1/apps/a1/keys/k' });
    expect(routeMatcher('ANY /{proxy+}')('GET', '/')).toBeUndefined();
  });
});
