import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { topology } from '../topology';
import { SERVICE_NAME } from './hookrelay-function';

export type HookrelayMetricName = keyof typeof topology.metrics.names;

/**
 * A metric the functions emit with Powertools (embedded metric format): the topology's namespace
 * and name, and the `service` dimension Powertools adds from POWERTOOLS_SERVICE_NAME.
 */
export function hookrelayMetric(
  name: HookrelayMetricName,
  options: { statistic?: string; period?: Duration; label?: string } = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: topology.metrics.namespace,
    metricName: topology.metrics.names[name],
    dimensionsMap: { service: SERVICE_NAME },
    statistic: options.statistic ?? cloudwatch.Stats.SUM,
    period: options.period ?? Duration.minutes(5),
    label: options.label,
  });
}
