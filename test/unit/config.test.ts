import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../functions/config';

describe('configuration', () => {
  it('applies the contract defaults when nothing is set', () => {
    const cfg = parseConfig({});
    expect(cfg.retryScheduleS).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(cfg.deliveryTimeoutMs).toBe(10_000);
    expect(cfg.allowPrivateTargets).toBe(false);
    expect(cfg.housekeepingRateS).toBe(60);
    expect(cfg.apiKey).toBeUndefined();
  });

  it('reads every variable', () => {
    const cfg = parseConfig({
      HOOKRELAY_RETRY_SCHEDULE: '1, 1,1',
      HOOKRELAY_DELIVERY_TIMEOUT_MS: '2500',
      HOOKRELAY_ALLOW_PRIVATE_TARGETS: 'true',
      HOOKRELAY_HOUSEKEEPING_RATE_S: '5',
      HOOKRELAY_API_KEY: 'k',
    });
    expect(cfg).toMatchObject({
      retryScheduleS: [1, 1, 1],
      deliveryTimeoutMs: 2500,
      allowPrivateTargets: true,
      housekeepingRateS: 5,
      apiKey: 'k',
    });
  });

  it('reports every bad variable in one error', () => {
    let error: unknown;
    try {
      parseConfig({
        HOOKRELAY_RETRY_SCHEDULE: '5,soon',
        HOOKRELAY_DELIVERY_TIMEOUT_MS: '-1',
        HOOKRELAY_ALLOW_PRIVATE_TARGETS: 'maybe',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('HOOKRELAY_RETRY_SCHEDULE');
    expect(problems).toContain('HOOKRELAY_DELIVERY_TIMEOUT_MS');
    expect(problems).toContain('HOOKRELAY_ALLOW_PRIVATE_TARGETS');
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(parseConfig({}))).toBe(true);
  });
});
