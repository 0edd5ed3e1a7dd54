import type { AttemptOutcome } from '../shared/model';

/** What the HTTP sender reports for one attempt. */
export type SendResult =
  | { kind: 'response'; statusCode: number; headers: Record<string, string>; bodyExcerpt: string; durationMs: number }
  | { kind: 'timeout'; durationMs: number; timeoutMs: number }
  | { kind: 'network'; durationMs: number; message: string }
  | { kind: 'forbidden_destination'; durationMs: number; message: string };

export interface Classified {
  outcome: AttemptOutcome;
  statusCode: number | null;
  error: string | null;
  /** `Retry-After` honoured only on 429 and 503, as the contract says. */
  retryAfterHeader?: string;
}

/**
 * Classifies an attempt the way Standard Webhooks and the best peers do:
 * - 2xx: success.
 * - 410 Gone: the endpoint is gone; it gets disabled and the delivery is not retried.
 * - 3xx: failure (redirects are never followed), retried.
 * - every other status (408, 425, 429, 5xx, and other 4xx, which are often a receiver's
 *   transient misconfiguration), timeouts and connection errors: retryable.
 * - a destination refused by the SSRF guard at connect time: not retried.
 */
export function classify(result: SendResult): Classified {
  switch (result.kind) {
    case 'timeout':
      return { outcome: 'retryable', statusCode: null, error: `timeout after ${result.timeoutMs} ms` };
    case 'network':
      return { outcome: 'retryable', statusCode: null, error: result.message };
    case 'forbidden_destination':
      return { outcome: 'forbidden_destination', statusCode: null, error: result.message };
    case 'response': {
      const code = result.statusCode;
      if (code >= 200 && code < 300) return { outcome: 'succeeded', statusCode: code, error: null };
      if (code === 410) return { outcome: 'gone', statusCode: code, error: 'HTTP 410 Gone: endpoint disabled' };
      const classified: Classified = {
        outcome: 'retryable',
        statusCode: code,
        error: code >= 300 && code < 400 ? `HTTP ${code} (redirects are not followed)` : `HTTP ${code}`,
      };
      if (code === 429 || code === 503) classified.retryAfterHeader = result.headers['retry-after'];
      return classified;
    }
  }
}
