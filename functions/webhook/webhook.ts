/**
 * One webhook attempt's request: the body, hookrelay's own headers, the endpoint's signature
 * scheme, its custom headers and its auth; then sending it, with an OAuth2 token fetched (or
 * reused) first and fetched afresh once if the endpoint answers 401.
 */
import { bearer, redact, secretValues, staticAuthorization } from './endpoint-options';
import type { Endpoint, EndpointAuth, EndpointSignature } from '../shared/model';
import type { SendResult } from './outcome';
import { DEFAULT_SIGNATURE, activeSecrets, signatureHeaders } from './signing';

/** Sends one webhook request and says what came back (HttpSender, in http-sender.ts). */
export interface WebhookSender {
  send(request: WebhookRequest, timeoutMs: number): Promise<SendResult>;
}

export interface WebhookRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type OAuth2Auth = Extract<EndpointAuth, { type: 'oauth2-client-credentials' }>;

/**
 * Access tokens for OAuth2 client-credentials endpoints, cached by the adapter. A failed token
 * request answers the SendResult the attempt is recorded with (its message names no secret).
 */
export interface AccessTokens {
  token(auth: OAuth2Auth, timeoutMs: number): Promise<{ ok: true; token: string } | { ok: false; result: SendResult }>;
  /** Forgets `token` (the endpoint refused it), so the next `token()` fetches a new one. */
  invalidate(auth: OAuth2Auth, token: string): void;
}

/** Sends a request; the HTTP adapter implements it (deliver.ts's WebhookSender has this shape). */
export interface RequestSender {
  send(request: WebhookRequest, timeoutMs: number): Promise<SendResult>;
}

/**
 * Builds the signed request for one attempt. The body embeds the event's data exactly as the
 * producer sent it; `webhook-id` and `webhook-timestamp` (this attempt's time) are on every
 * request, whatever the scheme, so any receiver can dedupe.
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
  signature?: EndpointSignature;
  /** The endpoint's custom headers (validated at registration: never one of those set here). */
  headers?: Record<string, string>;
  authorization?: string;
}): WebhookRequest {
  const body = `{"type":${JSON.stringify(input.type)},"timestamp":${JSON.stringify(input.timestamp)},"data":${input.dataJson}}`;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value;
  if (input.authorization !== undefined) headers.authorization = input.authorization;
  Object.assign(headers, {
    'content-type': 'application/json',
    'user-agent': input.userAgent,
    'webhook-id': input.eventId,
    'webhook-timestamp': String(Math.floor(input.at.getTime() / 1000)),
    ...signatureHeaders(input.signature ?? DEFAULT_SIGNATURE, input.secretKeys, input.eventId, input.at, body),
  });
  return { url: input.url, body, headers };
}

/** What stands for a secret in a request shown to people. */
export const HIDDEN = '•••';

/**
 * The request an attempt made at `at` sends to `endpoint`, for people to read (the portal's
 * delivery page): built by {@link buildWebhookRequest} itself, so it lists exactly the headers a
 * send has, then hidden where a secret shows: each signature by its version or prefix alone, the
 * Authorization by its scheme, the endpoint's custom headers by name (their values are
 * write-only). It is built from the endpoint as it is now: nothing of the sent request is stored.
 */
export function describeWebhookRequest(
  endpoint: Endpoint,
  event: { id: string; type: string; timestamp: string },
  at: Date,
  userAgent: string,
): { method: 'POST'; url: string; headers: Record<string, string> } {
  const signature = endpoint.signature ?? DEFAULT_SIGNATURE;
  const auth = endpoint.auth;
  // The secrets of that time if the endpoint still has them, else today's: only their number shows.
  const then = activeSecrets(endpoint.secrets, at);
  const keys = (then.length > 0 ? then : activeSecrets(endpoint.secrets, new Date())).map((k) => k.key);
  const request = buildWebhookRequest({
    url: endpoint.url,
    eventId: event.id,
    type: event.type,
    timestamp: event.timestamp,
    dataJson: 'null',
    secretKeys: keys,
    at,
    userAgent,
    signature,
    ...(endpoint.headers ? { headers: endpoint.headers } : {}),
    ...(auth ? { authorization: `${auth.type === 'basic' ? 'Basic' : 'Bearer'} ${HIDDEN}` } : {}),
  });
  const headers = { ...request.headers };
  for (const name of Object.keys(endpoint.headers ?? {})) headers[name.toLowerCase()] = HIDDEN;
  if (signature.scheme === 'hmac-sha256') {
    const name = signature.header.toLowerCase();
    headers[name] = (headers[name] ?? '')
      .split(',')
      .map(() => `${signature.prefix}${HIDDEN}`)
      .join(',');
  } else {
    headers['webhook-signature'] = (headers['webhook-signature'] ?? '')
      .split(' ')
      .map((v) => `${v.slice(0, v.indexOf(',') + 1)}${HIDDEN}`)
      .join(' ');
  }
  return { method: 'POST', url: request.url, headers };
}

export interface SendWebhookDeps {
  sender: RequestSender;
  tokens?: AccessTokens;
  userAgent: string;
  /** The attempt's whole budget: token request and webhook (and the one retry after a 401). */
  timeoutMs: number;
}

/**
 * Makes one attempt to `endpoint`: its Authorization (static, or an OAuth2 token), the signed
 * request, the send. A 401 to an OAuth2 endpoint means the token may have been revoked or have
 * expired early: a new one is fetched and the request sent once more, within the same attempt.
 * Secrets the receiver echoes back are blanked out of the response excerpt.
 */
export async function sendWebhook(
  deps: SendWebhookDeps,
  endpoint: Endpoint,
  event: { id: string; type: string; timestamp: string; dataJson: string },
  at: Date,
): Promise<SendResult> {
  const started = Date.now();
  const left = () => Math.max(1, deps.timeoutMs - (Date.now() - started));
  const auth = endpoint.auth;
  const build = (authorization: string | undefined) =>
    buildWebhookRequest({
      url: endpoint.url,
      eventId: event.id,
      type: event.type,
      timestamp: event.timestamp,
      dataJson: event.dataJson,
      secretKeys: activeSecrets(endpoint.secrets, at).map((s) => s.key),
      at,
      userAgent: deps.userAgent,
      ...(endpoint.signature ? { signature: endpoint.signature } : {}),
      ...(endpoint.headers ? { headers: endpoint.headers } : {}),
      ...(authorization !== undefined ? { authorization } : {}),
    });
  const scrub = (result: SendResult, authorization: string | undefined): SendResult =>
    result.kind === 'response'
      ? { ...result, bodyExcerpt: redact(result.bodyExcerpt, secretValues(endpoint, authorization)) }
      : result;

  if (auth?.type !== 'oauth2-client-credentials') {
    const authorization = auth ? staticAuthorization(auth) : undefined;
    return scrub(await deps.sender.send(build(authorization), deps.timeoutMs), authorization);
  }
  if (!deps.tokens) return { kind: 'network', durationMs: 0, message: 'OAuth2 is not configured in this deployment' };

  const first = await deps.tokens.token(auth, left());
  if (!first.ok) return first.result;
  let authorization = bearer(first.token);
  let result = await deps.sender.send(build(authorization), left());
  if (result.kind === 'response' && result.statusCode === 401) {
    deps.tokens.invalidate(auth, first.token);
    const fresh = await deps.tokens.token(auth, left());
    if (!fresh.ok) return fresh.result;
    authorization = bearer(fresh.token);
    const spent = result.durationMs;
    result = await deps.sender.send(build(authorization), left());
    result = { ...result, durationMs: result.durationMs + spent };
  }
  return scrub(result, authorization);
}
