/**
 * The delivery worker: an SQS batch from the work or retry queue, each message one attempt.
 * Messages are handled concurrently; a message whose handling hits an infrastructure error is
 * reported as a batch item failure so SQS retries it (and dead-letters it after maxReceiveCount).
 * A batch from the ordered lane (FIFO: its records carry a MessageGroupId) goes to the lane,
 * which runs each key in order and holds a key behind its waiting head (functions/ordering).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { isDeliveryMessage } from '../delivery/lifecycle';
import { logger, metrics, wiring } from '../wiring';

const processor = new BatchProcessor(EventType.SQS);

async function recordHandler(record: SQSRecord): Promise<void> {
  let message: unknown;
  try {
    message = JSON.parse(record.body);
  } catch {
    message = undefined;
  }
  if (!isDeliveryMessage(message)) {
    // Not ours or corrupt: fail it, so that the redrive policy moves it to the DLQ for a person.
    logger.error('unreadable delivery message', { messageId: record.messageId });
    throw new Error(`message ${record.messageId} is not a delivery message`);
  }
  // The receive count tells a first receive (which may skip the lease) from a redelivery.
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? '1') || 1;
  const outcome = await wiring().deliver.handle(message, receiveCount);
  logger.debug('delivery message handled', { messageId: record.messageId, ...message, outcome });
}

async function orderedBatch(records: SQSRecord[]): Promise<SQSBatchResponse> {
  const { failed, outcomes } = await wiring().orderedLane.handleBatch(
    records.map((r) => ({
      messageId: r.messageId,
      receiptHandle: r.receiptHandle,
      body: r.body,
      groupId: r.attributes.MessageGroupId ?? '',
    })),
  );
  logger.debug('ordered batch handled', { outcomes });
  return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
}

export const handler = middy<SQSEvent, SQSBatchResponse>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler((event, context) =>
    event.Records.length > 0 && event.Records.every((r) => r.attributes?.MessageGroupId !== undefined)
      ? orderedBatch(event.Records)
      : processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false }),
  );
