import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { WebhookDelivery, type WebhookDeliveryProps } from './constructs/webhook-delivery';

export interface HookrelayStackProps extends StackProps {
  /** Options of the webhook delivery service; every one has a default. */
  readonly hookrelay?: WebhookDeliveryProps;
  /** An existing SNS topic for the alarms, by ARN (overrides `hookrelay.alarmTopic`). */
  readonly alarmTopicArn?: string;
}

/**
 * The deployable hookrelay stack: one WebhookDelivery and the outputs the contract names
 * (`ApiUrl`, `EventBusName`, `DeadLetterQueueUrl`, `TableName`), plus those the CLI and operators
 * use. Outputs are defined on the stack itself so that their logical ids are exactly these names.
 */
export class HookrelayStack extends Stack {
  readonly hookrelay: WebhookDelivery;

  constructor(scope: Construct, id: string, props: HookrelayStackProps = {}) {
    const { hookrelay, alarmTopicArn, ...stackProps } = props;
    super(scope, id, {
      description: 'hookrelay: serverless webhook delivery (Standard Webhooks, retries, DLQ, catch-up feed)',
      ...stackProps,
    });
    const alarmTopic = alarmTopicArn
      ? sns.Topic.fromTopicArn(this, 'AlarmTopic', alarmTopicArn)
      : hookrelay?.alarmTopic;
    const h = new WebhookDelivery(this, 'Hookrelay', { ...hookrelay, alarmTopic });
    this.hookrelay = h;

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('ApiUrl', h.api.url, `Base URL of the ${h.api.shape === 'rest' ? 'REST' : 'HTTP'} API (append /v1/...)`);
    output('EventBusName', h.ingest.bus.eventBusName, 'EventBridge bus producers PutEvents to');
    output('DeadLetterQueueUrl', h.queues.deadLetter.queueUrl, 'Dead-letter queue of exhausted deliveries');
    output('TableName', h.store.table.tableName, 'DynamoDB table');
    output('AdminKeySecretArn', h.api.adminKey.secretArn, 'Secrets Manager secret holding the admin API key');
    output('WorkQueueUrl', h.queues.work.queueUrl, 'Queue of first delivery attempts (DLQ redrive target)');
    output('RetryQueueUrl', h.queues.retry.queueUrl, 'Queue of delivery retries');
    output(
      'IngestQueueUrl',
      h.ingest.queue.queueUrl,
      'Events from the bus waiting to be ingested (ingest DLQ redrive target)',
    );
    output('IngestDeadLetterQueueUrl', h.ingest.deadLetter.queueUrl, 'Events from the bus that could not be ingested');
    if (h.dashboard) output('DashboardName', h.dashboard.dashboard.dashboardName, 'CloudWatch dashboard');
  }
}
