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
import { defaultContainer, once, type Container } from '../container';
import { logger, metrics } from '../telemetry';
import { deliveryServices, type DeliveryServices } from '../wiring';

async function recordHandler(services: DeliveryServices, record: SQSRecord): Promise<void> {
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
  const outcome = await services.deliver.handle(message, receiveCount);
  logger.debug('delivery message handled', { messageId: record.messageId, ...message, outcome });
}

/** Like the isolation lane's, an ordered batch takes a share of its endpoints' rates while it runs. */
async function orderedBatch(services: DeliveryServices, records: SQSRecord[]): Promise<SQSBatchResponse> {
  const { lanes } = services;
  lanes.orderedMost = Math.max(lanes.orderedMost, ++lanes.ordered);
  try {
    const { failed, outcomes } = await services.orderedLane.handleBatch(
      records.map((r) => ({
        messageId: r.messageId,
        receiptHandle: r.receiptHandle,
        body: r.body,
        groupId: r.attributes.MessageGroupId ?? '',
      })),
    );
    logger.debug('ordered batch handled', { outcomes });
    return { batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
  } finally {
    lanes.ordered--;
  }
}

/** The delivery function over a container: its services are built on the first invocation. */
export function createDeliveryHandler(container: () => Container) {
  const services = once(() => deliveryServices(container()));
  const processor = new BatchProcessor(EventType.SQS);
  return middy<SQSEvent, SQSBatchResponse>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      const s = services();
      if (event.Records.length > 0 && event.Records.every((r) => r.attributes?.MessageGroupId !== undefined))
        return orderedBatch(s, event.Records);
      // A batch from the isolation lane takes a share of its endpoints' rates while it runs
      // (functions/flow/gate.ts): Lambda runs one at a time per container, a local runtime more.
      const { lanes, cfg } = s;
      const isolatedName = cfg.isolatedQueueUrl.slice(cfg.isolatedQueueUrl.lastIndexOf('/') + 1);
      const isolated = event.Records.some((r) => r.eventSourceARN?.endsWith(`:${isolatedName}`));
      if (isolated) lanes.isolatedMost = Math.max(lanes.isolatedMost, ++lanes.isolated);
      try {
        return await processPartialResponse(event, (record: SQSRecord) => recordHandler(s, record), processor, {
          context,
          throwOnFullBatchFailure: false,
        });
      } finally {
        if (isolated) lanes.isolated--;
      }
    });
}

/** The Lambda's entry point. */
export const handler = createDeliveryHandler(defaultContainer);
