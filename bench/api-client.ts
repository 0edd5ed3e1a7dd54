/**
 * Raw requests to a running API (the tests' `raw` sends through here too) and the bench's untyped
 * client over them. In bench/, so that bench/ needs nothing of test/.
 */
import type { Schemas } from '../client';

/** Where the API is and the key to call it with. */
export interface ApiTarget {
  apiUrl: string;
  apiKey: string;
}

/** What a raw request answered; its body is the parsed JSON, typed by the caller from client/'s types. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: unknown;
}

export interface RawOptions {
  headers?: Record<string, string>;
  /** Sent as the body verbatim, instead of `body` as JSON. */
  raw?: string;
  /** Another key than the target's; null sends none. */
  key?: string | null;
}

/** One request as given, bearing the target's key unless told otherwise; the answer's JSON parsed. */
export async function rawRequest(
  target: ApiTarget,
  method: string,
  path: string,
  body: unknown,
  opts: RawOptions,
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key !== null) headers.authorization ??= `Bearer ${opts.key ?? target.apiKey}`;
  let payload: string | undefined = opts.raw;
  if (payload === undefined && body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${target.apiUrl}${path}`, { method, headers, body: payload });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as unknown) : undefined };
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * @deprecated bench/ alone still reads answers as `{status, body}` through this untyped client;
 * tests use `testApi` (test/helpers/target.ts). It goes when bench/ moves onto the typed client.
 */
export function apiClient(target: ApiTarget) {
  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    opts: RawOptions = {},
  ): Promise<ApiResponse<T>> {
    const r = await rawRequest(target, method, path, body, opts);
    return { ...r, body: (r.body ?? {}) as T };
  }
  return {
    call,
    async createApp(name = 'test app') {
      const r = await call<{ id: string }>('POST', '/v1/apps', { name });
      if (r.status !== 201) throw new Error(`create app: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id;
    },
    async createEndpoint(appId: string, url: string, extra: Record<string, unknown> = {}) {
      const r = await call<{ id: string }>('POST', `/v1/apps/${appId}/endpoints`, { url, ...extra });
      if (r.status !== 201) throw new Error(`create endpoint: ${r.status} ${JSON.stringify(r.body)}`);
      const secret = await call<{ key: string }>('GET', `/v1/apps/${appId}/endpoints/${r.body.id}/secret`);
      return { id: r.body.id, secret: secret.body.key };
    },
    sendEvent(appId: string, event: { type: string; data: unknown; id?: string }, headers?: Record<string, string>) {
      return call<{ id: string; type: string; timestamp: string; deliveries: number }>(
        'POST',
        `/v1/apps/${appId}/events`,
        event,
        headers ? { headers } : {},
      );
    },
    eventStatus(appId: string, eventId: string) {
      return call<EventStatus>('GET', `/v1/apps/${appId}/events/${eventId}`);
    },
    /** Polls the event's status until `done` holds for it. */
    async waitForStatus(appId: string, eventId: string, done: (s: EventStatus) => boolean, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await call<EventStatus>('GET', `/v1/apps/${appId}/events/${eventId}`);
        if (r.status === 200 && done(r.body)) return r.body;
        if (Date.now() > deadline)
          throw new Error(`event ${eventId} did not reach the state: ${JSON.stringify(r.body)}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    },
  };
}

/** An event's status as the API documents it. */
type EventStatus = Schemas['EventStatus'];
