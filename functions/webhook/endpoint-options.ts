/**
 * An endpoint's request options beyond its URL: the header rules (which names are a token, which
 * are hookrelay's own), the `Authorization` value of its auth, and what the API shows of them
 * (never a secret: only that it is set).
 */
import type { Endpoint, EndpointAuth, EndpointSignature } from '../shared/model';

/** RFC 9110 `token`: what an HTTP field name may be. */
export const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII, spaces and tabs inside, none at either end (RFC 9110 field values, ASCII only). */
export const HEADER_VALUE_PATTERN = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/;

/**
 * Headers hookrelay sets itself, or that describe the connection rather than the request
 * (hop-by-hop, RFC 9110 section 7.6.1): an endpoint cannot set them.
 */
const RESERVED: Record<string, string> = {
  'webhook-id': 'is set by hookrelay (the event id)',
  'webhook-timestamp': 'is set by hookrelay (the attempt time)',
  'webhook-signature': 'is set by hookrelay (the signature)',
  'content-type': 'is set by hookrelay (application/json)',
  'content-length': 'is set by hookrelay',
  'content-encoding': 'is set by hookrelay (the body is not encoded)',
  'user-agent': 'is set by hookrelay (hookrelay/<version>)',
  host: 'comes from the endpoint URL',
  connection: 'is a hop-by-hop header',
  'keep-alive': 'is a hop-by-hop header',
  'proxy-connection': 'is a hop-by-hop header',
  'proxy-authenticate': 'is a hop-by-hop header',
  'proxy-authorization': 'is a hop-by-hop header',
  te: 'is a hop-by-hop header',
  trailer: 'is a hop-by-hop header',
  'transfer-encoding': 'is a hop-by-hop header',
  upgrade: 'is a hop-by-hop header',
  expect: 'is handled by the HTTP client',
};

/** Why a header name is hookrelay's own (a sentence fragment), or undefined if an endpoint may set it. */
export function reservedHeaderReason(name: string): string | undefined {
  const why = RESERVED[name.toLowerCase()];
  return why === undefined ? undefined : `${name} ${why} and cannot be set`;
}

/**
 * Why a custom header clashes with the endpoint's other options: its signature header, or
 * `Authorization` when the endpoint has auth. Undefined when it does not.
 */
export function clashingHeaderReason(
  name: string,
  options: { signature: EndpointSignature; auth: EndpointAuth | undefined },
): string | undefined {
  const lower = name.toLowerCase();
  if (options.signature.scheme === 'hmac-sha256' && options.signature.header.toLowerCase() === lower)
    return `${name} carries the endpoint's hmac-sha256 signature and cannot be set`;
  if (options.auth !== undefined && lower === 'authorization')
    return `${name} is set from the endpoint's auth (${options.auth.type}) and cannot be set as well`;
  return undefined;
}

/** The `Authorization` value for static credentials (OAuth2 tokens are fetched: see `bearer`). */
export function staticAuthorization(auth: EndpointAuth): string | undefined {
  if (auth.type === 'basic') return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  if (auth.type === 'bearer') return bearer(auth.token);
  return undefined;
}

export const bearer = (token: string) => `Bearer ${token}`;

/** What the API shows of an endpoint's auth: everything but its secrets, and that they are set. */
export type AuthView =
  | { type: 'basic'; username: string; passwordSet: true }
  | { type: 'bearer'; tokenSet: true }
  | {
      type: 'oauth2-client-credentials';
      tokenUrl: string;
      clientId: string;
      scope?: string;
      audience?: string;
      clientSecretSet: true;
    };

export function authView(auth: EndpointAuth): AuthView {
  switch (auth.type) {
    case 'basic':
      return { type: 'basic', username: auth.username, passwordSet: true };
    case 'bearer':
      return { type: 'bearer', tokenSet: true };
    case 'oauth2-client-credentials': {
      const view: AuthView = {
        type: auth.type,
        tokenUrl: auth.tokenUrl,
        clientId: auth.clientId,
        clientSecretSet: true,
      };
      if (auth.scope !== undefined) view.scope = auth.scope;
      if (auth.audience !== undefined) view.audience = auth.audience;
      return view;
    }
  }
}

/**
 * Every secret value an attempt to this endpoint may carry (auth secrets, custom header values,
 * the Authorization value sent), so that a receiver echoing them back does not put them in an
 * attempt's response excerpt.
 */
export function secretValues(endpoint: Pick<Endpoint, 'headers' | 'auth'>, authorization?: string): string[] {
  const out = Object.values(endpoint.headers ?? {});
  const auth = endpoint.auth;
  if (auth?.type === 'basic') out.push(auth.password);
  if (auth?.type === 'bearer') out.push(auth.token);
  if (auth?.type === 'oauth2-client-credentials') out.push(auth.clientSecret);
  if (authorization !== undefined) out.push(authorization, authorization.replace(/^\S+ /, ''));
  // Short values (a header "1") would blank out ordinary text: secrets worth hiding are longer.
  return [...new Set(out)].filter((v) => v.length >= 6);
}

/** `text` with every occurrence of each secret replaced by `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}
