/**
 * The typed hookrelay client: openapi-fetch over the types generated from docs/openapi.yaml, so
 * every path, parameter, body and answer is checked by the compiler against the API's own
 * document. The portal, the CLI and the end-to-end tests use it; producers can too.
 *
 * @example
 * const hr = hookrelayClient({ baseUrl: 'http://127.0.0.1:3000', key: process.env.HOOKRELAY_API_KEY! });
 * const { data, error } = await hr.POST('/v1/apps/{appId}/events', {
 *   params: { path: { appId } },
 *   body: { type: 'invoice.paid', data: { amount: 1 } },
 * });
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './openapi';

export type { components, paths };
export type Schemas = components['schemas'];
export type HookrelayClient = Client<paths>;

/** The JSON body a route takes, e.g. `RequestBody<'/v1/apps/{appId}/endpoints', 'post'>`. */
export type RequestBody<P extends keyof paths, M extends 'post' | 'patch'> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

export function hookrelayClient(
  opts: { baseUrl: string; key: string } & Omit<ClientOptions, 'baseUrl'>,
): HookrelayClient {
  const { key, headers, ...rest } = opts;
  return createClient<paths>({
    ...rest,
    headers: { authorization: `Bearer ${key}`, ...(headers as Record<string, string> | undefined) },
  });
}

/** The API's error body, `{error: {code, message, details?}}`, as one readable line. */
export function describeApiError(status: number, body: unknown): string {
  const error = (body as Schemas['Error'] | undefined)?.error;
  if (!error) return `HTTP ${status}`;
  const details = (error.details ?? []).map((d) => `${d.path}: ${d.message}`).join('; ');
  return `${error.code}: ${error.message}${details ? ` (${details})` : ''}`;
}
