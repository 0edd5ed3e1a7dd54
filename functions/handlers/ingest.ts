/**
 * The ingest queue's consumer: each SQS record is one EventBridge event the bus rule put there
 * (functions/intake/bus-intake.ts says what becomes of it). A record ingested or dead-lettered
 * with its reason is done, and deleted. A record that failed for now is hidden again for the
 * retry policy's delay, then reported as a batch item failure, so that SQS gives it back later.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { defaultContainer, once, type Container } from '../container';
import { logger, metrics } from '../telemetry';
import { ingestServices, type IngestServices } from '../wiring';

class RetryLaterError extends Error {
  override readonly name = 'RetryLaterError';
}

async function recordHandler(services: () => IngestServices, record: SQSRecord): Promise<void> {
  const { busIntake, ingestQueue } = services();
  const receives = Number(record.attributes.ApproximateReceiveCount) || 1;
  const verdict = await busIntake.handle({ body: record.body, receives });
  const ids = { messageId: record.messageId, receives };
  switch (verdict.outcome) {
    case 'ingested':
      logger.debug('event from the bus ingested', { ...ids, eventId: verdict.result.id });
      return;
    case 'dead-lettered':
      logger.warn('event from the bus dead-lettered', { ...ids, code: verdict.code, reason: verdict.reason });
      return;
    case 'retry':
      logger.warn('event from the bus not ingested yet; retrying later', {
        ...ids,
        delayS: verdict.delayS,
        error: verdict.error as Error,
      });
      await ingestQueue.retryAfter(record.receiptHandle, verdict.delayS);
      throw new RetryLaterError(`message ${record.messageId}: retry in ${verdict.delayS} s`, { cause: verdict.error });
  }
}

/** The ingest function over a container: its services are built on the first invocation. */
export function createIngestHandler(container: () => Container) {
  const services = once(() => ingestServices(container()));
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler((event, context) =>
      processPartialResponse(event, (record: SQSRecord) => recordHandler(services, record), processor, {
        context,
        throwOnFullBatchFailure: false,
      }),
    );
}

/** The Lambda's entry point. */
export const handler = createIngestHandler(defaultContainer);
