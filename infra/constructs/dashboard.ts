import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ApiMetrics } from './api';
import type { HandlerName } from './bundling';
import { hookrelayMetric } from './metrics';

export interface DeliveryDashboardProps {
  readonly queues: {
    /** The work queue's shards, in shard order: one line each. */
    workShards: readonly sqs.IQueue[];
    retry: sqs.IQueue;
    deadLetter: sqs.IQueue;
    ingest: sqs.IQueue;
    ingestDeadLetter: sqs.IQueue;
  };
  readonly api: ApiMetrics;
  readonly functions: Record<HandlerName, lambda.IFunction>;
  readonly alarms: cloudwatch.IAlarm[];
}

const PERIOD = Duration.minutes(5);

/** The system's health on one page: flow of events and deliveries, latency, queues, errors. */
export class DeliveryDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: DeliveryDashboardProps) {
    super(scope, id);
    const fns = Object.entries(props.functions);
    const { workShards, retry, deadLetter, ingest, ingestDeadLetter } = props.queues;
    const shardLabel = (n: number) => (workShards.length > 1 ? `work ${n}` : 'work');
    const max = { period: PERIOD, statistic: cloudwatch.Stats.MAXIMUM };
    const sum = { period: PERIOD, statistic: cloudwatch.Stats.SUM };

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(6) });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Events and deliveries (per 5 min)',
        width: 12,
        left: [
          hookrelayMetric('eventsAccepted', { label: 'accepted' }),
          hookrelayMetric('deliveriesSucceeded', { label: 'delivered' }),
          hookrelayMetric('deliveriesRetried', { label: 'retried' }),
          hookrelayMetric('deliveriesFailed', { label: 'failed' }),
          hookrelayMetric('deliveriesSkipped', { label: 'skipped' }),
          hookrelayMetric('attemptsFailed', { label: 'failed attempts' }),
        ],
      }),
      new cloudwatch.GraphWidget({
        title: 'Delivery latency (ms)',
        width: 12,
        left: (['p50', 'p90', 'p99'] as const).map((p) =>
          hookrelayMetric('deliveryLatencyMs', { statistic: p, label: p }),
        ),
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Queue depth (visible messages)',
        width: 12,
        left: [
          ...workShards.map((q, n) => q.metricApproximateNumberOfMessagesVisible({ ...max, label: shardLabel(n) })),
          retry.metricApproximateNumberOfMessagesVisible({ ...max, label: 'retry' }),
          deadLetter.metricApproximateNumberOfMessagesVisible({ ...max, label: 'dead letter' }),
          ingest.metricApproximateNumberOfMessagesVisible({ ...max, label: 'ingest' }),
          ingestDeadLetter.metricApproximateNumberOfMessagesVisible({ ...max, label: 'failed ingests' }),
        ],
        right: [retry.metricApproximateNumberOfMessagesNotVisible({ ...max, label: 'retry in flight or delayed' })],
      }),
      new cloudwatch.GraphWidget({
        title: 'Age of oldest message (s)',
        width: 12,
        left: [
          ...workShards.map((q, n) => q.metricApproximateAgeOfOldestMessage({ ...max, label: shardLabel(n) })),
          retry.metricApproximateAgeOfOldestMessage({ ...max, label: 'retry' }),
          deadLetter.metricApproximateAgeOfOldestMessage({ ...max, label: 'dead letter' }),
          ingest.metricApproximateAgeOfOldestMessage({ ...max, label: 'ingest' }),
        ],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Function errors',
        width: 8,
        left: fns.map(([name, fn]) => fn.metricErrors({ ...sum, label: name })),
      }),
      new cloudwatch.GraphWidget({
        title: 'Function throttles',
        width: 8,
        left: fns.map(([name, fn]) => fn.metricThrottles({ ...sum, label: name })),
      }),
      new cloudwatch.GraphWidget({
        title: 'API',
        width: 8,
        left: [
          props.api.metricCount({ ...sum, label: 'requests' }),
          props.api.metricClientError({ ...sum, label: '4xx' }),
          props.api.metricServerError({ ...sum, label: '5xx' }),
        ],
        right: [props.api.metricLatency({ period: PERIOD, statistic: 'p90', label: 'latency p90 (ms)' })],
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Housekeeping',
        width: 12,
        left: [
          hookrelayMetric('housekeepingRequeued', { label: 'requeued' }),
          hookrelayMetric('housekeepingStuck', { statistic: cloudwatch.Stats.MAXIMUM, label: 'stuck' }),
        ],
      }),
      new cloudwatch.SingleValueWidget({
        title: 'Failed ingests (events from the bus in the ingest DLQ)',
        width: 6,
        metrics: [ingestDeadLetter.metricApproximateNumberOfMessagesVisible({ ...max, label: 'failed ingests' })],
      }),
      new cloudwatch.GraphWidget({
        title: 'Bus events dead-lettered by the ingest function',
        width: 6,
        left: [hookrelayMetric('ingestsDeadLettered', { label: 'dead-lettered' })],
      }),
    );
    this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: props.alarms }));
  }
}
