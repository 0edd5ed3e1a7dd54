/**
 * The few API calls the CLI makes, with the API's error shape turned into one readable line.
 */
import type { Schemas } from '../client';
import { OperationError } from './io';

// The API's shapes come from the typed client generated from docs/openapi.yaml (client/).
export type EventAccepted = Schemas['Accepted'];
export type EventState = Schemas['EventStatus'];
export type DeliveryState = EventState['deliveries'][number];

/** An API answer other than the one expected: `status` is the HTTP status, `code` the API's error code. */
export class ApiError extends OperationError {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function apiClient(api: { url: string; key: string }) {
  async function call<T>(method: string, path: string, expected: number, body?: unknown): Promise<T> {
    const url = `${api.url}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${api.key}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
      const why = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : String(cause);
      throw new OperationError(`cannot reach the API at ${api.url} (${why})`, { cause: err });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.status !== expected) {
      const error = (
        json as
          { error?: { code?: string; message?: string; details?: { path?: string; message?: string }[] } } | undefined
      )?.error;
      const details = (error?.details ?? []).map((d) => `${d.path ?? ''}: ${d.message ?? ''}`).join('; ');
      const what = error
        ? `${error.code ?? 'error'}: ${error.message ?? ''}${details ? ` (${details})` : ''}`
        : text.slice(0, 200) || res.statusText;
      throw new ApiError(res.status, error?.code, `${method} ${path} answered ${res.status} ${what}`);
    }
    return json as T;
  }

  const app = (appId: string) => `/v1/apps/${encodeURIComponent(appId)}`;
  const endpoint = (appId: string, endpointId: string) => `${app(appId)}/endpoints/${encodeURIComponent(endpointId)}`;
  return {
    createEndpoint(appId: string, body: Record<string, unknown>) {
      return call<{ id: string } & Record<string, unknown>>('POST', `${app(appId)}/endpoints`, 201, body);
    },
    updateEndpoint(appId: string, endpointId: string, body: Record<string, unknown>) {
      return call<{ id: string } & Record<string, unknown>>('PATCH', endpoint(appId, endpointId), 200, body);
    },
    getEndpoint(appId: string, endpointId: string) {
      return call<Record<string, unknown>>('GET', endpoint(appId, endpointId), 200);
    },
    /** What the endpoint's receiver verifies with: its secret, or a v1a endpoint's public key. */
    endpointKey(appId: string, endpointId: string) {
      return call<{ key: string }>('GET', `${endpoint(appId, endpointId)}/secret`, 200);
    },
    sendEvent(appId: string, event: { type: string; data: unknown; id?: string }) {
      return call<EventAccepted>('POST', `/v1/apps/${encodeURIComponent(appId)}/events`, 202, event);
    },
    getEvent(appId: string, eventId: string) {
      return call<EventState>(
        'GET',
        `/v1/apps/${encodeURIComponent(appId)}/events/${encodeURIComponent(eventId)}`,
        200,
      );
    },
  };
}
