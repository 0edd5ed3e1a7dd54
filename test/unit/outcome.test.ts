import { describe, expect, it } from 'vitest';
import { classify, type SendResult } from '../../functions/webhook/outcome';

const response = (statusCode: number, headers: Record<string, string> = {}): SendResult => ({
  kind: 'response',
  statusCode,
  headers,
  bodyExcerpt: '',
  durationMs: 5,
});

describe('attempt classification', () => {
  it.each([200, 201, 202, 204, 299])('counts %i as success', (code) => {
    expect(classify(response(code)).outcome).toBe('succeeded');
  });

  it.each([301, 302, 307, 308])('counts %i as a retryable failure, never followed', (code) => {
    const c = classify(response(code));
    expect(c.outcome).toBe('retryable');
    expect(c.error).toContain('redirects are not followed');
  });

  it.each([400, 401, 403, 404, 408, 413, 425, 429, 500, 502, 503, 504])('retries %i', (code) => {
    expect(classify(response(code)).outcome).toBe('retryable');
  });

  it('treats 410 Gone as the endpoint being gone', () => {
    expect(classify(response(410)).outcome).toBe('gone');
  });

  it('passes Retry-After on only 429 and 503', () => {
    expect(classify(response(429, { 'retry-after': '30' })).retryAfterHeader).toBe('30');
    expect(classify(response(503, { 'retry-after': '30' })).retryAfterHeader).toBe('30');
    expect(classify(response(500, { 'retry-after': '30' })).retryAfterHeader).toBeUndefined();
  });

  it('retries timeouts and connection errors, naming them', () => {
    expect(classify({ kind: 'timeout', durationMs: 10, timeoutMs: 10 })).toMatchObject({
      outcome: 'retryable',
      error: 'timeout after 10 ms',
      statusCode: null,
    });
    expect(classify({ kind: 'network', durationMs: 1, message: 'connection refused' })).toMatchObject({
      outcome: 'retryable',
      error: 'connection refused',
    });
  });

  it('does not retry a destination the guard refused', () => {
    expect(classify({ kind: 'forbidden_destination', durationMs: 1, message: 'loopback' }).outcome).toBe(
      'forbidden_destination',
    );
  });
});
