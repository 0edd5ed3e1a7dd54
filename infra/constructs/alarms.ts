import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { topology } from '../topology';
import type { ApiMetrics } from './api';
import type { HandlerName } from './bundling';
import { hookrelayMetric } from './metrics';

export interface DeliveryAlarmsProps {
  readonly deadLetterQueue: sqs.IQueue;
  readonly ingestDeadLetterQueue: sqs.IQueue;
  /** The ordered lane's backstop DLQ (a message there is a strict delivery nothing could handle). */
  readonly orderedDeadLetterQueue?: sqs.IQueue;
  /** The bus rule's target, drained by the ingest function. */
  readonly ingestQueue: sqs.IQueue;
  readonly api: ApiMetrics;
  readonly functions: Record<HandlerName, lambda.IFunction>;
  /** Every alarm notifies this topic when it fires and when it clears. */
  readonly alarmTopic?: sns.ITopic;
}

const FIVE_MINUTES = Duration.minutes(5);
/** Fires on the first period with any. */
const AT_LEAST_ONE = {
  threshold: 1,
  evaluationPeriods: 1,
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
};

/**
 * Alarms on what an operator must act on: messages in either DLQ, a DLQ message close to expiry,
 * bus events waiting over an hour to be ingested,
 * the delivery function failing, any function throttled, the API answering 5xx, and housekeeping
 * finding deliveries stuck past their lease. Each is a standard-resolution alarm ($0.10/month).
 */
export class DeliveryAlarms extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];

  private readonly topic: sns.ITopic | undefined;

  constructor(scope: Construct, id: string, props: DeliveryAlarmsProps) {
    super(scope, id);
    this.topic = props.alarmTopic;
    this.deadLetterAlarms(props);
    this.ingestAlarms(props);
    this.functionAlarms(props);
  }

  /** One alarm, missing data not breaching, notifying the topic (if any) on alarm and on OK. */
  private add(alarmId: string, metric: cloudwatch.IMetric, options: Omit<cloudwatch.CreateAlarmOptions, 'metric'>) {
    const alarm = new cloudwatch.Alarm(this, alarmId, {
      metric,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      ...options,
    });
    if (this.topic) {
      alarm.addAlarmAction(new actions.SnsAction(this.topic));
      alarm.addOkAction(new actions.SnsAction(this.topic));
    }
    this.alarms.push(alarm);
    return alarm;
  }

  /** The delivery DLQs: anything in them, and the main one's oldest message near expiry. */
  private deadLetterAlarms(props: DeliveryAlarmsProps) {
    this.add(
      'DeadLetterMessages',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      {
        ...AT_LEAST_ONE,
        alarmDescription:
          'Deliveries reached the dead-letter queue (exhausted retries or poison messages). Inspect and redrive with the CLI.',
      },
    );

    // SQS keeps a message's first enqueue time when it moves to a DLQ, so the age counts from
    // the original send. Warn three days before the DLQ's retention would drop the oldest one.
    const warnBeforeExpiryS = (topology.queues.dlq.retentionDays - 3) * 86_400;
    this.add(
      'DeadLetterOldestAge',
      props.deadLetterQueue.metricApproximateAgeOfOldestMessage({
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      {
        threshold: warnBeforeExpiryS,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: `The oldest dead-letter message is ${topology.queues.dlq.retentionDays - 3} days old: SQS deletes it at ${topology.queues.dlq.retentionDays} days. Redrive or archive it.`,
      },
    );
    if (props.orderedDeadLetterQueue) {
      this.add(
        'OrderedDeadLetterMessages',
        props.orderedDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        {
          ...AT_LEAST_ONE,
          alarmDescription:
            "A strict endpoint's delivery left the ordered lane after 1,000 receives (docs/ordering.md): its key moved on without it. Inspect it, then redrive the ordered DLQ to the ordered queue.",
        },
      );
    }
  }

  /** The bus's ingest: its DLQ (anything, and near expiry) and events waiting an hour. */
  private ingestAlarms(props: DeliveryAlarmsProps) {
    this.add(
      'IngestDeadLetterMessages',
      props.ingestDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      {
        ...AT_LEAST_ONE,
        alarmDescription:
          'Events put on the bus could not be ingested (refused, or out of retries). `hookrelay dlq list` shows each with its reason; fix the cause, then `hookrelay dlq redrive`.',
      },
    );
    this.add(
      'IngestDeadLetterOldestAge',
      props.ingestDeadLetterQueue.metricApproximateAgeOfOldestMessage({
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      {
        threshold: (topology.queues.ingestDlq.retentionDays - 3) * 86_400,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription: `The oldest failed ingest is ${topology.queues.ingestDlq.retentionDays - 3} days old: SQS deletes it at ${topology.queues.ingestDlq.retentionDays} days. Redrive or archive it.`,
      },
    );
    // An event still waiting after an hour is being retried: the table or a queue keeps failing.
    this.add(
      'IngestQueueOldestAge',
      props.ingestQueue.metricApproximateAgeOfOldestMessage({
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      {
        threshold: 3600,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        alarmDescription:
          'An event put on the bus has waited an hour to be ingested: the ingest function keeps failing for a reason other than the event (its logs say why). It is retried for about a day, then dead-lettered.',
      },
    );
  }

  /** The functions: delivery errors, any throttle, the API's 5xx, housekeeping finding stuck work. */
  private functionAlarms(props: DeliveryAlarmsProps) {
    this.add(
      'DeliveryErrors',
      props.functions.delivery.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      {
        ...AT_LEAST_ONE,
        alarmDescription:
          'The delivery function failed whole invocations (not single deliveries): its batches go back to the queue.',
      },
    );

    for (const [name, fn] of Object.entries(props.functions)) {
      const pascal = name.charAt(0).toUpperCase() + name.slice(1);
      this.add(`${pascal}Throttles`, fn.metricThrottles({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }), {
        ...AT_LEAST_ONE,
        alarmDescription: `The ${name} function was throttled: the account's or the function's concurrency is exhausted.`,
      });
    }

    this.add('Api5xx', props.api.metricServerError({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }), {
      ...AT_LEAST_ONE,
      alarmDescription: 'The API answered 5xx: the api function failed or timed out.',
    });

    // One sweep may see a delivery whose worker just died; three periods in a row is a pattern.
    this.add('HousekeepingStuck', hookrelayMetric('housekeepingStuck', { statistic: cloudwatch.Stats.MAXIMUM }), {
      threshold: 0,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      alarmDescription:
        'Housekeeping keeps finding deliveries stuck past their lease for 15 minutes: workers are failing mid-delivery.',
    });
  }
}
