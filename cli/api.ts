/**
 * The few API calls the CLI makes, over the typed client generated from docs/openapi.yaml
 * (client/), with the API's error shape turned into one readable line.
 */
import { describeApiError, hookrelayClient, type RequestBody, type Schemas } from '../client';
import { OperationError } from './io';

export type EventAccepted = Schemas['Accepted'];
export type EventState = Schemas['EventStatus'];
export type DeliveryState = EventState['deliveries'][number];
export type EndpointCreate = RequestBody<'/v1/apps/{appId}/endpoints', 'post'>;
export type EndpointChange = RequestBody<'/v1/apps/{appId}/endpoints/{endpointId}', 'patch'>;

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
  const hr = hookrelayClient({ baseUrl: api.url, key: api.key });
  const init = () => ({ signal: AbortSignal.timeout(30_000) });

  /** The answer's data; an unreachable API or an unexpected answer as an OperationError. */
  async function must<T>(method: string, call: Promise<Answer<T>>): Promise<T> {
    let answer: Answer<T>;
    try {
      answer = await call;
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
      const why = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : String(cause);
      throw new OperationError(`cannot reach the API at ${api.url} (${why})`, { cause: err });
    }
    const { data, error, response } = answer;
    if (!response.ok || data === undefined) {
      const code = (error as Schemas['Error'] | undefined)?.error?.code;
      const path = new URL(response.url || api.url).pathname;
      throw new ApiError(
        response.status,
        code,
        `${method} ${path} answered ${response.status} ${describeApiError(response.status, error)}`,
      );
    }
    return data;
  }

  const ofEndpoint = (appId: string, endpointId: string) => ({ path: { appId, endpointId } });
  return {
    createEndpoint(appId: string, body: EndpointCreate) {
      return must('POST', hr.POST('/v1/apps/{appId}/endpoints', { params: { path: { appId } }, body, ...init() }));
    },
    updateEndpoint(appId: string, endpointId: string, body: EndpointChange) {
      return must(
        'PATCH',
        hr.PATCH('/v1/apps/{appId}/endpoints/{endpointId}', {
          params: ofEndpoint(appId, endpointId),
          body,
          ...init(),
        }),
      );
    },
    getEndpoint(appId: string, endpointId: string) {
      return must(
        'GET',
        hr.GET('/v1/apps/{appId}/endpoints/{endpointId}', { params: ofEndpoint(appId, endpointId), ...init() }),
      );
    },
    /** What the endpoint's receiver verifies with: its secret, or a v1a endpoint's public key. */
    endpointKey(appId: string, endpointId: string) {
      return must(
        'GET',
        hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/secret', { params: ofEndpoint(appId, endpointId), ...init() }),
      );
    },
    sendEvent(appId: string, event: RequestBody<'/v1/apps/{appId}/events', 'post'>) {
      return must('POST', hr.POST('/v1/apps/{appId}/events', { params: { path: { appId } }, body: event, ...init() }));
    },
    getEvent(appId: string, eventId: string) {
      return must(
        'GET',
        hr.GET('/v1/apps/{appId}/events/{eventId}', { params: { path: { appId, eventId } }, ...init() }),
      );
    },
  };
}
