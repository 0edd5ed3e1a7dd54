import { signatureHeader } from './signing';

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/**
 * Builds the signed Standard Webhooks request for one attempt. The body embeds the event's
 * data exactly as the producer sent it; `webhook-timestamp` is this attempt's time.
 */
export function buildWebhookRequest(input: {
  url: string;
  eventId: string;
  type: string;
  timestamp: string;
  dataJson: string;
  secretKeys: readonly string[];
  at: Date;
  userAgent: string;
}): WebhookRequest {
  const body = `{"type":${JSON.stringify(input.type)},"timestamp":${JSON.stringify(input.timestamp)},"data":${input.dataJson}}`;
  return {
    url: input.url,
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': input.userAgent,
      'webhook-id': input.eventId,
      'webhook-timestamp': String(Math.floor(input.at.getTime() / 1000)),
      'webhook-signature': signatureHeader(input.secretKeys, input.eventId, input.at, body),
    },
  };
}
