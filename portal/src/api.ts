/** The portal's API calls: the generated typed client, with errors turned into one exception. */
import { describeApiError, hookrelayClient, type HookrelayClient, type Schemas } from '../../client';

export type { Schemas };

/** One reason the API gave for refusing a request: the field (`url`, `auth.tokenUrl`...) and why. */
export interface Detail {
  path: string;
  message: string;
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The API's `details`: what each refused field is refused for. */
    readonly details: Detail[] = [],
  ) {
    super(message);
  }
}

let onRefused: (message: string) => void = () => {};

/** Called when the API refuses the link itself (401: expired, ended or unknown). */
export function whenRefused(handler: (message: string) => void): void {
  onRefused = handler;
}

/** Where the API is: this page's origin, under the same stage prefix as /portal (a REST API's /prod). */
export const apiBase = () => `${location.origin}${location.pathname.replace(/\/portal(\/.*)?$/, '')}`;

export function portalClient(token: string): HookrelayClient {
  return hookrelayClient({ baseUrl: apiBase(), key: token });
}

/** The answer's data, or an ApiFailure naming what the API said. */
export async function must<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) {
    const body = error as Schemas['Error'] | undefined;
    if (response.status === 401) onRefused(body?.error?.message ?? 'This portal link no longer works.');
    if (response.status === 429) {
      throw new ApiFailure(429, `Too many requests; try again in ${response.headers.get('retry-after') ?? 'a few'} s.`);
    }
    throw new ApiFailure(
      response.status,
      body?.error?.message ?? describeApiError(response.status, error),
      body?.error?.details ?? [],
    );
  }
  return data as T;
}
