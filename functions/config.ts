/**
 * Configuration: `process.env` parsed and validated once (at cold start), every bad key reported
 * in one error, exported as a frozen typed object. The names are the contract's.
 */
import * as z from 'zod/mini';
import { ENV, topology } from '../infra/topology';

const bool = (fallback: boolean) =>
  z.pipe(
    z.optional(z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' })),
    z.transform((v) => (v === undefined ? fallback : v === 'true' || v === '1')),
  );

const positiveInt = (fallback: number, max: number) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > max) {
        ctx.issues.push({ code: 'custom', message: `must be a whole number from 1 to ${max}, got "${v}"`, input: v });
        return z.NEVER;
      }
      return n;
    }),
  );

const retrySchedule = z.pipe(
  z.optional(z.string()),
  z.transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return [...topology.defaultRetryScheduleS];
    const parts = v.split(',').map((s) => s.trim());
    const nums = parts.map(Number);
    if (parts.length > 20 || nums.some((n) => !Number.isInteger(n) || n < 0 || n > 7 * 86_400)) {
      ctx.issues.push({
        code: 'custom',
        message: `must be up to 20 comma-separated whole seconds, each 0..604800, got "${v}"`,
        input: v,
      });
      return z.NEVER;
    }
    return nums;
  }),
);

const text = (fallback: string) => z._default(z.string(), fallback);

/** CSP frame-ancestors sources: 'self', 'none', or origins (wildcard hosts allowed), space-separated. */
const FRAME_SOURCE = /^('self'|'none'|https?:|(https?:\/\/)?(\*\.)?[A-Za-z0-9.-]+(:(\d{1,5}|\*))?)$/;
const frameAncestors = z.pipe(
  z.optional(z.string()),
  z.transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return "'none'";
    const sources = v.trim().split(/\s+/);
    const bad = sources.filter((s) => !FRAME_SOURCE.test(s));
    if (bad.length > 0 || (sources.includes("'none'") && sources.length > 1)) {
      ctx.issues.push({
        code: 'custom',
        message: `must be 'none', 'self' or space-separated origins such as https://app.example.com, got "${v}"`,
        input: v,
      });
      return z.NEVER;
    }
    return sources.join(' ');
  }),
);
const portalUrl = z.optional(
  z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://hooks.example.com' }),
);

const schema = z.object({
  [ENV.tableName]: z._default(z.string().check(z.minLength(1)), topology.table.name),
  [ENV.workQueueUrl]: text(''),
  [ENV.retryQueueUrl]: text(''),
  [ENV.dlqUrl]: text(''),
  [ENV.apiKey]: z.optional(z.string()),
  [ENV.apiKeySecretArn]: z.optional(z.string()),
  [ENV.retrySchedule]: retrySchedule,
  [ENV.deliveryTimeoutMs]: positiveInt(10_000, 900_000),
  [ENV.allowPrivateTargets]: bool(false),
  [ENV.housekeepingRateS]: positiveInt(topology.housekeeping.defaultRateS, 86_400),
  [ENV.retentionDays]: positiveInt(topology.retention.days, 3650),
  [ENV.disableAfterFailingS]: positiveInt(topology.delivery.disableAfterFailingS, 365 * 86_400),
  HOOKRELAY_PORTAL_FRAME_ANCESTORS: frameAncestors,
  HOOKRELAY_PORTAL_URL: portalUrl,
  AWS_REGION: text('us-east-1'),
  HOOKRELAY_VERSION: text('0.1.0'),
});

export interface Config {
  readonly tableName: string;
  readonly workQueueUrl: string;
  readonly retryQueueUrl: string;
  readonly dlqUrl: string;
  /** The admin key given directly (local); on AWS it is read from Secrets Manager instead. */
  readonly apiKey: string | undefined;
  readonly apiKeySecretArn: string | undefined;
  readonly retryScheduleS: readonly number[];
  readonly deliveryTimeoutMs: number;
  readonly allowPrivateTargets: boolean;
  readonly housekeepingRateS: number;
  readonly retentionDays: number;
  /** An endpoint failing without a success for this long is disabled. */
  readonly disableAfterFailingS: number;
  readonly region: string;
  readonly version: string;
  /** Who may frame the portal: the CSP frame-ancestors sources ('none' by default). */
  readonly portalFrameAncestors: string;
  /** The origin portal links point to; by default the one the minting request came to. */
  readonly portalUrl: string | undefined;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment; throws one ConfigError naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`));
  }
  const e = result.data;
  return Object.freeze({
    tableName: e[ENV.tableName],
    workQueueUrl: e[ENV.workQueueUrl],
    retryQueueUrl: e[ENV.retryQueueUrl],
    dlqUrl: e[ENV.dlqUrl],
    apiKey: e[ENV.apiKey],
    apiKeySecretArn: e[ENV.apiKeySecretArn],
    retryScheduleS: Object.freeze(e[ENV.retrySchedule]),
    deliveryTimeoutMs: e[ENV.deliveryTimeoutMs],
    allowPrivateTargets: e[ENV.allowPrivateTargets],
    housekeepingRateS: e[ENV.housekeepingRateS],
    retentionDays: e[ENV.retentionDays],
    disableAfterFailingS: e[ENV.disableAfterFailingS],
    region: e.AWS_REGION,
    version: e.HOOKRELAY_VERSION,
    portalFrameAncestors: e.HOOKRELAY_PORTAL_FRAME_ANCESTORS,
    portalUrl: e.HOOKRELAY_PORTAL_URL,
  });
}

let cached: Config | undefined;

/** The process's configuration, parsed on first use and then fixed. */
export function config(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}

/** For the local runtime and tests, which set the environment before handlers first run. */
export function resetConfigForTests(): void {
  cached = undefined;
}
