/**
 * Scheduled housekeeping: reconciles the table against the queues (see delivery/housekeeping.ts).
 * An event with `detail.recover = true` treats every open item as due: the local stack sends it
 * at start-up over a kept data directory, when the queues' state may have been lost.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { ScheduledEvent } from 'aws-lambda';
import type { HousekeepingReport } from '../delivery/housekeeping';
import { METRIC_NAMES } from '../shared/metric-names';
import { defaultContainer, once, type Container } from '../container';
import { logger, metrics } from '../telemetry';
import { housekeepingServices } from '../wiring';

/** The housekeeping function over a container: its services are built on the first invocation. */
export function createHousekeepingHandler(container: () => Container) {
  const services = once(() => housekeepingServices(container()));
  return middy<ScheduledEvent<{ recover?: boolean } | undefined>, HousekeepingReport>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const report = await services().housekeeping.run({ recover: event.detail?.recover === true });
      metrics.addMetric(METRIC_NAMES.housekeepingRequeued, MetricUnit.Count, report.requeued);
      metrics.addMetric(METRIC_NAMES.housekeepingStuck, MetricUnit.Count, report.stuck);
      if (report.stuck > 0) logger.warn('deliveries stuck past their deadline', { ...report });
      else if (report.requeued + report.scheduled > 0) logger.info('housekeeping re-drove work', { ...report });
      return report;
    });
}

/** The Lambda's entry point. */
export const handler = createHousekeepingHandler(defaultContainer);
