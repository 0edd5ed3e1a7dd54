/**
 * The ordered lane on AWS (infra/constructs/ordered-lane.ts): a high-throughput FIFO queue with
 * a FIFO dead-letter queue as a backstop, its own event source mapping on the delivery function,
 * and the grants each function's part needs.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { logicalIdOf } from '../../infra/constructs/hookrelay-function';
import { ENV, topology } from '../../infra/topology';
import { arnOf, refOf, resourcesOf, roleCan, synth } from './helpers';

let template: Template;
let ids: { queue: string; dlq: string; fn: Record<string, string>; role: Record<string, string> };

beforeAll(() => {
  const { stack, template: t } = synth();
  template = t;
  const h = stack.hookrelay;
  const fns = {
    api: h.api.function,
    delivery: h.worker.function,
    ingest: h.ingest.function,
    housekeeping: h.housekeeping.function,
  };
  ids = {
    queue: logicalIdOf(h.ordered.queue),
    dlq: logicalIdOf(h.ordered.deadLetter),
    fn: Object.fromEntries(Object.entries(fns).map(([n, f]) => [n, logicalIdOf(f.fn)])),
    role: Object.fromEntries(Object.entries(fns).map(([n, f]) => [n, logicalIdOf(f.fn.role!)])),
  };
});

describe('the ordered lane', () => {
  it('is a high-throughput FIFO queue (deduplication and quota per message group) kept 14 days', () => {
    const q = resourcesOf(template, 'AWS::SQS::Queue')[ids.queue]!.Properties;
    expect(q).toMatchObject({
      FifoQueue: true,
      DeduplicationScope: 'messageGroup',
      FifoThroughputLimit: 'perMessageGroupId',
      VisibilityTimeout: topology.queues.ordered.visibilityTimeoutS,
      MessageRetentionPeriod: 14 * 86_400,
      SqsManagedSseEnabled: true,
    });
    expect(q.ContentBasedDeduplication).toBeUndefined();
  });

  it('redrives to a FIFO dead-letter queue only after SQS’s most receives (a held head is received once per attempt)', () => {
    const q = resourcesOf(template, 'AWS::SQS::Queue')[ids.queue]!.Properties;
    expect(q.RedrivePolicy).toEqual({ deadLetterTargetArn: arnOf(ids.dlq), maxReceiveCount: 1000 });
    expect(resourcesOf(template, 'AWS::SQS::Queue')[ids.dlq]!.Properties).toMatchObject({ FifoQueue: true });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ids.dlq, 'QueueName'] } }],
      Threshold: 1,
    });
  });

  it('feeds the delivery function through its own event source mapping, reporting per-message failures', () => {
    const mappings = Object.values(resourcesOf(template, 'AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(arnOf(ids.queue)),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0]!.Properties).toMatchObject({
      FunctionName: refOf(ids.fn.delivery!),
      BatchSize: topology.delivery.batchSize,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: topology.delivery.orderedConcurrency },
    });
    // SQS refuses a batching window on a FIFO source.
    expect(mappings[0]!.Properties.MaximumBatchingWindowInSeconds).toBeUndefined();
  });

  it('lets the worker hold heads, whoever sends deliveries send to it, and the api release a skipped head', () => {
    const can = (h: string, action: string) => roleCan(template, ids.role[h]!, action, arnOf(ids.queue));
    expect(can('delivery', 'sqs:ChangeMessageVisibility')).toBe(true);
    for (const h of ['api', 'ingest', 'housekeeping', 'delivery']) expect(can(h, 'sqs:SendMessage'), h).toBe(true);
    expect(can('api', 'sqs:ChangeMessageVisibility')).toBe(true);
    expect(can('ingest', 'sqs:ChangeMessageVisibility')).toBe(false);
  });

  it('is named to every function by its URL', () => {
    for (const fn of Object.values(resourcesOf(template, 'AWS::Lambda::Function'))) {
      const vars = (fn.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
      if (vars?.[ENV.tableName] === undefined) continue;
      expect(vars[ENV.orderedQueueUrl]).toEqual(refOf(ids.queue));
    }
  });
});
