/**
 * The functions' logger and metrics (Powertools). They stay module values, one per process, not
 * per container: they hold no endpoint or resource of a stack (only the log level and metrics
 * switches Powertools reads from the environment when this module loads), and the handlers'
 * middleware (`injectLambdaContext(logger)`, `logMetrics(metrics)`) takes them when a handler is
 * built, before any container exists.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from './shared/metric-names';

export const logger = new Logger({ serviceName: 'hookrelay' });
export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName: 'hookrelay',
  // Powertools warns on every invocation that adds no metric (most API calls): noise, and log
  // volume that CloudWatch bills. Everything else it says goes to our logger.
  logger: {
    trace: (...a: unknown[]) => logger.debug(String(a[0]), ...a.slice(1).map((x) => ({ detail: x }))),
    debug: (...a: unknown[]) => logger.debug(String(a[0]), ...a.slice(1).map((x) => ({ detail: x }))),
    info: (...a: unknown[]) => logger.info(String(a[0]), ...a.slice(1).map((x) => ({ detail: x }))),
    warn: (...a: unknown[]) => {
      if (!String(a[0]).startsWith('No application metrics to publish')) logger.warn(String(a[0]));
    },
    error: (...a: unknown[]) => logger.error(String(a[0]), ...a.slice(1).map((x) => ({ detail: x }))),
  },
});
