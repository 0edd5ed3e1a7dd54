/**
 * The few API calls the CLI makes, through the typed client generated from docs/openapi.yaml
 * (client/), with the API's error shape turned into one readable line.
 */
import { describeApiError, hookrelayClient, type Schemas } from '../client';
import { OperationError } from './io';

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

type Answer<T> = { data?: T; error?: unknown; response: Response };

export function apiClient(api: { url: string; key: string }) {
  const client = hookrelayClient({
    baseUrl: api.url,
    key: api.key,
    fetch: (request: Request) => fetch(request, { signal: AbortSignal.timeout(30_000) }),
  });

  async function call<T>(what: string, expected: number, send: () => Promise<Answer<T>>): Promise<T> {
    let answer: Answer<T>;
    try {
      answer = await send();
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
      const why = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : String(cause);
      throw new OperationError(`cannot reach the API at ${api.url} (${why})`, { cause: err });
    }
    const { status, statusText } = answer.response;
    if (status !== expected) {
      const error = answer.error as Schemas['Error'] | string | undefined;
      const what2 =
        typeof error === 'object' && error?.error
          ? describeApiError(status, error)
          : (typeof error === 'string' ? error.slice(0, 200) : '') || statusText;
      throw new ApiError(
        status,
        typeof error === 'object' ? error?.error?.code : undefined,
        `${what} answered ${status} ${what2}`,
      );
    }
    return answer.data as T;
  }

  return {
    /** `data` is sent as given: the API, not the CLI, says whether it is a valid event. */
    sendEvent(appId: string, event: { type: string; data: unknown; id?: string }) {
      return call(`POST /v1/apps/${encodeURIComponent(appId)}/events`, 202, () =>
        client.POST('/v1/apps/{appId}/events', {
          params: { path: { appId } },
          body: { ...event, data: event.data as Record<string, unknown> },
        }),
      );
    },
    getEvent(appId: string, eventId: string) {
      return call(`GET /v1/apps/${encodeURIComponent(appId)}/events/${encodeURIComponent(eventId)}`, 200, () =>
        client.GET('/v1/apps/{appId}/events/{eventId}', { params: { path: { appId, eventId } } }),
      );
    },
  };
}
