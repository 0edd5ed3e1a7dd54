import { describe, expect, it } from 'vitest';
import { ConfigError, ENV, parseConfig } from '../../functions/config';
import { STAND_IN_RESOURCES } from '../helpers/fixtures';

/** What the stack sets on every function (resources and tunables), with stand-in values. */
const DEPLOYMENT = {
  ...STAND_IN_RESOURCES,
  [ENV.disableAfterFailingS]: '432000',
  [ENV.leaseS]: '300',
  [ENV.responseExcerptBytes]: '1024',
  [ENV.retryJitter]: '0.1',
  [ENV.secretRotationOverlapS]: '86400',
  [ENV.feedSettleMs]: '2000',
  [ENV.recoverMaxPerCall]: '2000',
  [ENV.ingestRetry]: '30,3600,30',
};

function problemsOf(env: Record<string, string | undefined>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('applies the contract defaults when the operator sets nothing', () => {
    const cfg = parseConfig(DEPLOYMENT);
    expect(cfg.retryScheduleS).toEqual([5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect(cfg.deliveryTimeoutMs).toBe(10_000);
    expect(cfg.allowPrivateTargets).toBe(false);
    expect(cfg.housekeepingRateS).toBe(60);
    expect(cfg.apiKey).toBeUndefined();
  });

  it('reads every variable', () => {
    const cfg = parseConfig({
      ...DEPLOYMENT,
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
      tableName: 'hookrelay',
      workQueueUrl: 'http://sqs/work',
      retentionDays: 30,
      disableAfterFailingS: 432_000,
      leaseS: 300,
      responseExcerptBytes: 1024,
      retryJitter: 0.1,
      secretRotationOverlapS: 86_400,
      feedSettleMs: 2000,
      recoverMaxPerCall: 2000,
      ingestRetry: { firstDelayS: 30, maxDelayS: 3600, attempts: 30 },
      version: '0.1.0',
    });
  });

  it('refuses an ingest retry policy that is not three whole numbers', () => {
    expect(problemsOf({ ...DEPLOYMENT, [ENV.ingestRetry]: '30,3600' })).toEqual([
      `${ENV.ingestRetry} must be "firstDelayS,maxDelayS,attempts" (delays 0..43200, attempts 1..1000), got "30,3600"`,
    ]);
  });

  it('reports every bad variable in one error', () => {
    const problems = problemsOf({
      ...DEPLOYMENT,
      HOOKRELAY_RETRY_SCHEDULE: '5,soon',
      HOOKRELAY_DELIVERY_TIMEOUT_MS: '-1',
      HOOKRELAY_ALLOW_PRIVATE_TARGETS: 'maybe',
      [ENV.retryJitter]: '2',
      [ENV.leaseS]: '1.5',
    }).join('\n');
    expect(problems).toContain('HOOKRELAY_RETRY_SCHEDULE');
    expect(problems).toContain('HOOKRELAY_DELIVERY_TIMEOUT_MS');
    expect(problems).toContain('HOOKRELAY_ALLOW_PRIVATE_TARGETS');
    expect(problems).toContain(`${ENV.retryJitter} must be a number from 0 to 0.5`);
    expect(problems).toContain(`${ENV.leaseS} must be a whole number`);
  });

  it('names every deployment variable that is missing, none of the contract ones', () => {
    const problems = problemsOf({});
    const missing = problems.filter((p) => p.endsWith('is not set (the stack sets it on every function)'));
    expect(missing.map((p) => p.split(' ')[0]).sort()).toEqual(Object.keys(DEPLOYMENT).sort());
    expect(problems).toHaveLength(missing.length);
  });

  it('treats an empty deployment variable as missing', () => {
    expect(problemsOf({ ...DEPLOYMENT, [ENV.workQueueUrl]: ' ' })).toEqual([
      `${ENV.workQueueUrl} is not set (the stack sets it on every function)`,
    ]);
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(parseConfig(DEPLOYMENT))).toBe(true);
  });
});

describe('HOOKRELAY_ORDERED_CONCURRENCY', () => {
  it("takes Lambda's range (2 to 1000) and defaults to 10", () => {
    expect(parseConfig({ ...DEPLOYMENT, [ENV.orderedConcurrency]: '2' }).orderedConcurrency).toBe(2);
    expect(parseConfig({ ...DEPLOYMENT, [ENV.orderedConcurrency]: undefined }).orderedConcurrency).toBe(10);
    expect(problemsOf({ ...DEPLOYMENT, [ENV.orderedConcurrency]: '1' })).toEqual([
      `${ENV.orderedConcurrency} must be a whole number from 2 to 1000, got "1"`,
    ]);
  });
});

describe('HOOKRELAY_WORK_SHARD_URLS', () => {
  it('is the work queue alone when unset, and every shard in order when set', () => {
    expect(parseConfig(DEPLOYMENT).workShardUrls).toEqual(['http://sqs/work']);
    const cfg = parseConfig({
      ...DEPLOYMENT,
      [ENV.workShardUrls]: 'http://sqs/work, http://sqs/work-1,http://sqs/work-2',
    });
    expect(cfg.workShardUrls).toEqual(['http://sqs/work', 'http://sqs/work-1', 'http://sqs/work-2']);
    expect(Object.isFrozen(cfg.workShardUrls)).toBe(true);
  });

  it('refuses an empty entry, and a list that does not start with the work queue', () => {
    expect(problemsOf({ ...DEPLOYMENT, [ENV.workShardUrls]: 'http://sqs/work,,http://sqs/work-2' })).toEqual([
      `${ENV.workShardUrls} must be up to 100 comma-separated queue URLs, got "http://sqs/work,,http://sqs/work-2"`,
    ]);
    expect(problemsOf({ ...DEPLOYMENT, [ENV.workShardUrls]: 'http://sqs/work-1,http://sqs/work' })).toEqual([
      `${ENV.workShardUrls} must start with ${ENV.workQueueUrl} (http://sqs/work), got "http://sqs/work-1"`,
    ]);
  });
});

describe('HOOKRELAY_PORTAL_FRAME_ANCESTORS', () => {
  it("defaults to 'none', takes origins, and refuses anything that would smuggle in a directive", () => {
    expect(parseConfig(DEPLOYMENT).portalFrameAncestors).toBe("'none'");
    expect(
      parseConfig({
        ...DEPLOYMENT,
        HOOKRELAY_PORTAL_FRAME_ANCESTORS: " 'self'  https://app.example.com https://*.acme.io:8443 ",
      }).portalFrameAncestors,
    ).toBe("'self' https://app.example.com https://*.acme.io:8443");
    for (const bad of ['https://a.com; script-src *', "'unsafe-inline'", "'none' https://a.com", 'a,b']) {
      expect(() => parseConfig({ ...DEPLOYMENT, HOOKRELAY_PORTAL_FRAME_ANCESTORS: bad }), bad).toThrow(
        /FRAME_ANCESTORS/,
      );
    }
  });
});

describe('HOOKRELAY_PORTAL_RATE_LIMIT', () => {
  it('is a burst and a rate, 120,20 by default', () => {
    expect(parseConfig(DEPLOYMENT).portalRateLimit).toEqual({ capacity: 120, refillPerS: 20 });
    expect(parseConfig({ ...DEPLOYMENT, HOOKRELAY_PORTAL_RATE_LIMIT: '30, 0.5' }).portalRateLimit).toEqual({
      capacity: 30,
      refillPerS: 0.5,
    });
    for (const bad of ['30', '0,1', '1.5,1', '30,1,2', 'x,y', '30,-1']) {
      expect(problemsOf({ ...DEPLOYMENT, HOOKRELAY_PORTAL_RATE_LIMIT: bad }), bad).toEqual([
        expect.stringMatching(/HOOKRELAY_PORTAL_RATE_LIMIT must be/),
      ]);
    }
  });
});
