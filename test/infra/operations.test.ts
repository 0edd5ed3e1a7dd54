import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import { beforeAll, describe, expect, it } from 'vitest';
import { logicalIdOf } from '../../infra/constructs/hookrelay-function';
import { WebhookDelivery, type WebhookDeliveryProps } from '../../infra/constructs/webhook-delivery';
import { topology } from '../../infra/topology';
import { arnOf, refOf, resourcesOf, testApp } from './helpers';

/** The construct on its own, in a stack that also holds an alarm topic and a KMS key. */
function synthConstruct(props: (scope: Stack) => WebhookDeliveryProps) {
  const stack = new Stack(testApp(), 'Ops');
  const hooks = new WebhookDelivery(stack, 'Webhooks', props(stack));
  return { stack, hooks, template: Template.fromStack(stack) };
}

describe('alarms', () => {
  let template: Template;
  let hooks: WebhookDelivery;
  let topicId: string;

  beforeAll(() => {
    let topic: sns.Topic | undefined;
    ({ template, hooks } = synthConstruct((stack) => {
      topic = new sns.Topic(stack, 'Ops');
      return { alarmTopic: topic };
    }));
    topicId = logicalIdOf(topic!);
  });

  const alarms = () => Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
  const alarmOn = (namespace: string, metricName: string, dimensions: unknown) =>
    alarms().filter(
      (a) =>
        a.Namespace === namespace &&
        a.MetricName === metricName &&
        JSON.stringify(a.Dimensions) === JSON.stringify(dimensions),
    );

  it('notify the alarm topic when they fire and when they clear, every one of them', () => {
    expect(alarms().length).toBeGreaterThanOrEqual(10);
    for (const a of alarms()) {
      expect(a.AlarmActions).toEqual([refOf(topicId)]);
      expect(a.OKActions).toEqual([refOf(topicId)]);
    }
  });

  it('fire on any message in the DLQ, and before the oldest one expires', () => {
    const dlq = [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(hooks.queues.deadLetter), 'QueueName'] } }];
    const [visible] = alarmOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible', dlq);
    expect(visible).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const [age] = alarmOn('AWS/SQS', 'ApproximateAgeOfOldestMessage', dlq);
    expect(age!.Threshold as number).toBeLessThan(topology.queues.dlq.retentionDays * 86_400);
    expect(age!.Threshold as number).toBeGreaterThan(0);
  });

  it('fire on any message in the ingest DLQ (a failed ingest), before the oldest expires, and on an event waiting an hour', () => {
    const queueDims = (q: unknown) => [
      { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalIdOf(q as never), 'QueueName'] } },
    ];
    const ingestDlq = queueDims(hooks.ingest.deadLetter);
    const [visible, ...more] = alarmOn('AWS/SQS', 'ApproximateNumberOfMessagesVisible', ingestDlq);
    expect(more).toEqual([]);
    expect(visible).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    const [age] = alarmOn('AWS/SQS', 'ApproximateAgeOfOldestMessage', ingestDlq);
    expect(age!.Threshold as number).toBeLessThan(topology.queues.ingestDlq.retentionDays * 86_400);
    const [waiting] = alarmOn('AWS/SQS', 'ApproximateAgeOfOldestMessage', queueDims(hooks.ingest.queue));
    expect(waiting).toMatchObject({ Threshold: 3600, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it('fire on delivery function errors and on throttles of each function', () => {
    const fnDims = (fn: { fn: unknown }) => [{ Name: 'FunctionName', Value: refOf(logicalIdOf(fn.fn as never)) }];
    expect(alarmOn('AWS/Lambda', 'Errors', fnDims(hooks.worker.function))).toHaveLength(1);
    for (const f of [hooks.api.function, hooks.worker.function, hooks.ingest.function, hooks.housekeeping.function]) {
      expect(alarmOn('AWS/Lambda', 'Throttles', fnDims(f)), f.node.path).toHaveLength(1);
    }
  });

  it('fire on API 5xx answers', () => {
    const api = [{ Name: 'ApiId', Value: refOf(logicalIdOf(hooks.api.httpApi!)) }];
    expect(alarmOn('AWS/ApiGateway', '5xx', api)).toHaveLength(1);
  });

  it('fire when housekeeping keeps finding stuck deliveries (the Powertools metric, service dimension)', () => {
    const [stuck] = alarmOn(topology.metrics.namespace, topology.metrics.names.housekeepingStuck, [
      { Name: 'service', Value: 'hookrelay' },
    ]);
    expect(stuck).toMatchObject({
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
  });

  it('notify nobody when no topic is given', () => {
    const { template: t } = synthConstruct(() => ({}));
    const all = Object.values(resourcesOf(t, 'AWS::CloudWatch::Alarm'));
    expect(all.length).toBeGreaterThanOrEqual(10);
    for (const a of all) expect(a.Properties.AlarmActions).toBeUndefined();
  });
});

describe('the dashboard', () => {
  it('graphs accepted, delivered, retried, failed and skipped counts, latency, queue depths and errors', () => {
    const { template } = synthConstruct(() => ({}));
    const [dashboard] = Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    const names = topology.metrics.names;
    for (const name of [
      names.eventsAccepted,
      names.deliveriesSucceeded,
      names.deliveriesRetried,
      names.deliveriesFailed,
      names.deliveriesSkipped,
      names.deliveryLatencyMs,
    ]) {
      expect(body).toContain(`\\"${topology.metrics.namespace}\\",\\"${name}\\",\\"service\\",\\"hookrelay\\"`);
    }
    for (const p of ['p50', 'p90', 'p99']) expect(body).toContain(`\\"stat\\":\\"${p}\\"`);
    expect(body).toContain('ApproximateNumberOfMessagesVisible');
    expect(body.match(/\\"AWS\/Lambda\\",\\"Errors\\"/g)).toHaveLength(4);
  });

  it('shows how many failed ingests the ingest DLQ holds', () => {
    const { template, hooks } = synthConstruct(() => ({}));
    const [dashboard] = Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'));
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    // The single-value widget: its title, then the ingest DLQ's visible messages.
    const widget = /Failed ingests \(events from the bus in the ingest DLQ\).*?\]\]/.exec(body)?.[0] ?? '';
    expect(widget).toContain('ApproximateNumberOfMessagesVisible');
    expect(widget).toContain(logicalIdOf(hooks.ingest.deadLetter));
  });
});

describe('table encryption', () => {
  it('uses a customer managed key when one is given', () => {
    let key: kms.Key | undefined;
    const { template } = synthConstruct((stack) => {
      key = new kms.Key(stack, 'TableKey', { enableKeyRotation: true });
      return { tableEncryptionKey: key };
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: arnOf(logicalIdOf(key!)) },
    });
    // The given key replaces the default one: no second key (and no second $1 a month).
    expect(Object.keys(resourcesOf(template, 'AWS::KMS::Key'))).toEqual([logicalIdOf(key!)]);
    // Every function can use the key, with the actions spelled out (CDK's grant says ReEncrypt*).
    const keyStatements = Object.values(resourcesOf(template, 'AWS::IAM::Policy'))
      .flatMap(
        (p) => (p.Properties.PolicyDocument as { Statement: Array<{ Action: string[]; Resource: unknown }> }).Statement,
      )
      .filter((st) => JSON.stringify(st.Resource) === JSON.stringify(arnOf(logicalIdOf(key!))));
    expect(keyStatements).toHaveLength(4);
    for (const st of keyStatements) {
      expect(st.Action).toContain('kms:Decrypt');
      for (const action of st.Action) expect(action).not.toContain('*');
    }
  });
});
