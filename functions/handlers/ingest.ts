/**
 * EventBridge rule target: a producer's PutEvents entry becomes an event, exactly like a POST.
 * `DetailType` is the event type, `Detail` is `{"appId", "data", "id"?}`. Without an `id`, the
 * EventBridge event id is used, so that EventBridge's own retries of the target stay idempotent.
 * Any failure is thrown: EventBridge retries, then the rule target's DLQ keeps the event.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { ValidationError } from '../core/errors';
import { logger, metrics, wiring } from '../wiring';

type Detail = { appId?: unknown; data?: unknown; id?: unknown };

export const handler = middy<EventBridgeEvent<string, Detail>, void>()
  .use(injectLambdaContext(logger))
  .use(logMetrics(metrics))
  .handler(async (event) => {
    const detail = event.detail ?? {};
    if (typeof detail.appId !== 'string' || detail.appId === '') {
      throw new ValidationError('EventBridge detail must name the app', [
        { path: 'detail.appId', message: 'is required' },
      ]);
    }
    const result = await wiring().ingest.ingest({
      appId: detail.appId,
      body: {
        type: event['detail-type'],
        data: detail.data,
        id: typeof detail.id === 'string' ? detail.id : `evb_${event.id}`,
      },
    });
    logger.debug('event accepted from EventBridge', {
      appId: detail.appId,
      eventId: result.id,
      deliveries: result.deliveries,
    });
  });
