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

  /** An answer that has no body (204): only its status is checked. */
  async function done(method: string, call: Promise<{ error?: unknown; response: Response }>): Promise<void> {
    let answer: { error?: unknown; response: Response };
    try {
      answer = await call;
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
      const why = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : String(cause);
      throw new OperationError(`cannot reach the API at ${api.url} (${why})`, { cause: err });
    }
    const { error, response } = answer;
    if (!response.ok) {
      const code = (error as Schemas['Error'] | undefined)?.error?.code;
      const path = new URL(response.url || api.url).pathname;
      throw new ApiError(
        response.status,
        code,
        `${method} ${path} answered ${response.status} ${describeApiError(response.status, error)}`,
      );
    }
  }

  const ofApp = (appId: string) => ({ params: { path: { appId } }, ...init() });
  const ofEndpoint = (appId: string, endpointId: string) => ({ params: { path: { appId, endpointId } }, ...init() });
  const ofEvent = (appId: string, eventId: string) => ({ params: { path: { appId, eventId } }, ...init() });
  return {
    createApp(body: RequestBody<'/v1/apps', 'post'>) {
      return must('POST', hr.POST('/v1/apps', { body, ...init() }));
    },
    updateApp(appId: string, body: RequestBody<'/v1/apps/{appId}', 'patch'>) {
      return must('PATCH', hr.PATCH('/v1/apps/{appId}', { ...ofApp(appId), body }));
    },
    getApp(appId: string) {
      return must('GET', hr.GET('/v1/apps/{appId}', ofApp(appId)));
    },
    createKey(appId: string, body: RequestBody<'/v1/apps/{appId}/keys', 'post'>) {
      return must('POST', hr.POST('/v1/apps/{appId}/keys', { ...ofApp(appId), body }));
    },
    deleteKey(appId: string, keyId: string) {
      return done(
        'DELETE',
        hr.DELETE('/v1/apps/{appId}/keys/{keyId}', { params: { path: { appId, keyId } }, ...init() }),
      );
    },
    createPortalLink(appId: string, body: RequestBody<'/v1/apps/{appId}/portal-access', 'post'>) {
      return must('POST', hr.POST('/v1/apps/{appId}/portal-access', { ...ofApp(appId), body }));
    },
    endPortalSessions(appId: string) {
      return done('DELETE', hr.DELETE('/v1/apps/{appId}/portal-access', ofApp(appId)));
    },
    listEndpoints(appId: string, cursor?: string) {
      return must(
        'GET',
        hr.GET('/v1/apps/{appId}/endpoints', {
          params: { path: { appId }, query: cursor === undefined ? {} : { cursor } },
          ...init(),
        }),
      );
    },
    createEndpoint(appId: string, body: EndpointCreate) {
      return must('POST', hr.POST('/v1/apps/{appId}/endpoints', { ...ofApp(appId), body }));
    },
    updateEndpoint(appId: string, endpointId: string, body: EndpointChange) {
      return must(
        'PATCH',
        hr.PATCH('/v1/apps/{appId}/endpoints/{endpointId}', { ...ofEndpoint(appId, endpointId), body }),
      );
    },
    getEndpoint(appId: string, endpointId: string) {
      return must('GET', hr.GET('/v1/apps/{appId}/endpoints/{endpointId}', ofEndpoint(appId, endpointId)));
    },
    deleteEndpoint(appId: string, endpointId: string) {
      return done('DELETE', hr.DELETE('/v1/apps/{appId}/endpoints/{endpointId}', ofEndpoint(appId, endpointId)));
    },
    /** A strict endpoint's held keys (docs/ordering.md). */
    heldKeys(appId: string, endpointId: string) {
      return must(
        'GET',
        hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/ordering/held', ofEndpoint(appId, endpointId)),
      );
    },
    /** Fails the delivery holding a key of a strict endpoint (null: the events without a key). */
    skipKey(appId: string, endpointId: string, orderingKey: string | null) {
      return must(
        'POST',
        hr.POST('/v1/apps/{appId}/endpoints/{endpointId}/ordering/skip', {
          ...ofEndpoint(appId, endpointId),
          body: { orderingKey },
        }),
      );
    },
    /** What the endpoint's receiver verifies with: its secret, or a v1a endpoint's public key. */
    endpointKey(appId: string, endpointId: string) {
      return must('GET', hr.GET('/v1/apps/{appId}/endpoints/{endpointId}/secret', ofEndpoint(appId, endpointId)));
    },
    sendEvent(appId: string, event: RequestBody<'/v1/apps/{appId}/events', 'post'>) {
      return must('POST', hr.POST('/v1/apps/{appId}/events', { ...ofApp(appId), body: event }));
    },
    getEvent(appId: string, eventId: string) {
      return must('GET', hr.GET('/v1/apps/{appId}/events/{eventId}', ofEvent(appId, eventId)));
    },
    eventAttempts(appId: string, eventId: string) {
      return must('GET', hr.GET('/v1/apps/{appId}/events/{eventId}/attempts', ofEvent(appId, eventId)));
    },
    resendEvent(appId: string, eventId: string, body: RequestBody<'/v1/apps/{appId}/events/{eventId}/resend', 'post'>) {
      return must('POST', hr.POST('/v1/apps/{appId}/events/{eventId}/resend', { ...ofEvent(appId, eventId), body }));
    },
  };
}
