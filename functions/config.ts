/**
 * Configuration: an environment (a Lambda's `process.env`, or a local stack's) parsed and validated
 * once per container (functions/container.ts), every bad key reported in one error, as a frozen
 * typed object.
 *
 * Two kinds of variable reach a function:
 *   - the contract's (HOOKRELAY_RETRY_SCHEDULE and the others in the README), each with the
 *     contract's default, which an operator may set;
 *   - the deployment's: the resources a function talks to and the runtime tunables (leases,
 *     excerpt size, jitter...). The stack sets every one of them from infra/topology.ts, and the
 *     local runtime runs the functions with the environment the synthesized template gives them,
 *     so these have no default here: a function started without one fails at once, naming it.
 *
 * This module is the one home of the variables' names (`ENV`); infra reads it from here.
 */
import * as z from 'zod/mini';

/** Environment variable names, the same on AWS and locally. */
export const ENV = {
  // The contract's (README, docs/openapi.yaml's companion).
  apiKey: 'HOOKRELAY_API_KEY',
  retrySchedule: 'HOOKRELAY_RETRY_SCHEDULE',
  deliveryTimeoutMs: 'HOOKRELAY_DELIVERY_TIMEOUT_MS',
  allowPrivateTargets: 'HOOKRELAY_ALLOW_PRIVATE_TARGETS',
  housekeepingRateS: 'HOOKRELAY_HOUSEKEEPING_RATE_S',
  dataDir: 'HOOKRELAY_DATA_DIR',
  portalFrameAncestors: 'HOOKRELAY_PORTAL_FRAME_ANCESTORS',
  portalUrl: 'HOOKRELAY_PORTAL_URL',
  portalRateLimit: 'HOOKRELAY_PORTAL_RATE_LIMIT',
  port: 'PORT',
  /** Local stack only: the SQS emulator's port (default: any free one). */
  sqsPort: 'HOOKRELAY_SQS_PORT',
  // The deployment's: resources.
  tableName: 'HOOKRELAY_TABLE_NAME',
  workQueueUrl: 'HOOKRELAY_WORK_QUEUE_URL',
  /**
   * Every shard of the work queue, comma-separated in shard order, the first being the work queue
   * itself (docs/flow-control.md "Shards"): an app's first attempts go to its shard. Empty: the
   * work queue alone.
   */
  workShardUrls: 'HOOKRELAY_WORK_SHARD_URLS',
  retryQueueUrl: 'HOOKRELAY_RETRY_QUEUE_URL',
  /** The isolation lane: attempts of throttled, paused, rate-limited and slow endpoints (functions/flow). */
  isolatedQueueUrl: 'HOOKRELAY_ISOLATED_QUEUE_URL',
  dlqUrl: 'HOOKRELAY_DLQ_URL',
  /** The bus rule's target and its DLQ: set on the ingest function only (the others never use them). */
  ingestQueueUrl: 'HOOKRELAY_INGEST_QUEUE_URL',
  ingestDlqUrl: 'HOOKRELAY_INGEST_DLQ_URL',
  orderedQueueUrl: 'HOOKRELAY_ORDERED_QUEUE_URL',
  apiKeySecretArn: 'HOOKRELAY_API_KEY_SECRET_ARN',
  // The deployment's: tunables.
  retentionDays: 'HOOKRELAY_RETENTION_DAYS',
  disableAfterFailingS: 'HOOKRELAY_DISABLE_AFTER_FAILING_S',
  leaseS: 'HOOKRELAY_LEASE_S',
  responseExcerptBytes: 'HOOKRELAY_RESPONSE_EXCERPT_BYTES',
  retryJitter: 'HOOKRELAY_RETRY_JITTER',
  secretRotationOverlapS: 'HOOKRELAY_SECRET_ROTATION_OVERLAP_S',
  feedSettleMs: 'HOOKRELAY_FEED_SETTLE_MS',
  recoverMaxPerCall: 'HOOKRELAY_RECOVER_MAX_PER_CALL',
  /** The isolation lane's event source maximumConcurrency: rates are shared out by it. */
  isolatedConcurrency: 'HOOKRELAY_ISOLATED_CONCURRENCY',
  orderedConcurrency: 'HOOKRELAY_ORDERED_CONCURRENCY',
  /** How long an attempt may take on the shared lanes before it is cut and moved to the isolation lane. */
  sharedLaneBudgetMs: 'HOOKRELAY_SHARED_LANE_BUDGET_MS',
  /** "firstDelayS,maxDelayS,attempts": how a bus event failing for now is retried. */
  ingestRetry: 'HOOKRELAY_INGEST_RETRY',
  version: 'HOOKRELAY_VERSION',
} as const;

/** The contract's defaults (README "Configuration"); the stack reads them from here too. */
export const CONTRACT_DEFAULTS = {
  retryScheduleS: [5, 300, 1800, 7200, 18000, 36000, 36000],
  deliveryTimeoutMs: 10_000,
  allowPrivateTargets: false,
  housekeepingRateS: 60,
  /** Per portal link and api container: a burst of 120 calls, then 20 a second. */
  portalRateLimit: { capacity: 120, refillPerS: 20 },
} as const;

const bool = (fallback: boolean) =>
  z.pipe(
    z.optional(z.enum(['true', 'false', '1', '0'], { error: 'must be true or false' })),
    z.transform((v) => (v === undefined ? fallback : v === 'true' || v === '1')),
  );

const MISSING = 'is not set (the stack sets it on every function)';

/** A whole number in [min, max]; `fallback` undefined makes it required. */
const wholeNumber = (fallback: number | undefined, max: number, min = 1) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((v, ctx) => {
      if (v === undefined || v.trim() === '') {
        if (fallback !== undefined) return fallback;
        ctx.issues.push({ code: 'custom', message: MISSING, input: v });
        return z.NEVER;
      }
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.issues.push({
          code: 'custom',
          message: `must be a whole number from ${min} to ${max}, got "${v}"`,
          input: v,
        });
        return z.NEVER;
      }
      return n;
    }),
  );

/** A required fraction in [0, max]. */
const fraction = (max: number) =>
  z.pipe(
    z.optional(z.string()),
    z.transform((v, ctx) => {
      if (v === undefined || v.trim() === '') {
        ctx.issues.push({ code: 'custom', message: MISSING, input: v });
        return z.NEVER;
      }
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n > max) {
        ctx.issues.push({ code: 'custom', message: `must be a number from 0 to ${max}, got "${v}"`, input: v });
        return z.NEVER;
      }
      return n;
    }),
  );

const retrySchedule = z.pipe(
  z.optional(z.string()),
  z.transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return [...CONTRACT_DEFAULTS.retryScheduleS];
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

/** "firstDelayS,maxDelayS,attempts": the ingest retry policy (required, like every tunable). */
const ingestRetry = z.pipe(
  z.optional(z.string()),
  z.transform((v, ctx) => {
    if (v === undefined || v.trim() === '') {
      ctx.issues.push({ code: 'custom', message: MISSING, input: v });
      return z.NEVER;
    }
    const [first, max, attempts, ...rest] = v.split(',').map((s) => Number(s.trim()));
    const whole = (n: number | undefined, lo: number, hi: number) => Number.isInteger(n) && n! >= lo && n! <= hi;
    if (rest.length > 0 || !whole(first, 0, 43_200) || !whole(max, 0, 43_200) || !whole(attempts, 1, 1000)) {
      ctx.issues.push({
        code: 'custom',
        message: `must be "firstDelayS,maxDelayS,attempts" (delays 0..43200, attempts 1..1000), got "${v}"`,
        input: v,
      });
      return z.NEVER;
    }
    return { firstDelayS: first!, maxDelayS: max!, attempts: attempts! };
  }),
);

/** A comma-separated list of queue URLs, none empty; empty or unset: none. */
const urlList = z.pipe(
  z.optional(z.string()),
  z.transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return [];
    const urls = v.split(',').map((s) => s.trim());
    if (urls.some((u) => u === '') || urls.length > 100) {
      ctx.issues.push({
        code: 'custom',
        message: `must be up to 100 comma-separated queue URLs, got "${v}"`,
        input: v,
      });
      return z.NEVER;
    }
    return urls;
  }),
);

/** A required non-empty string (a resource's name or URL). */
const required = z.pipe(
  z.optional(z.string()),
  z.transform((v, ctx) => {
    if (v === undefined || v.trim() === '') {
      ctx.issues.push({ code: 'custom', message: MISSING, input: v });
      return z.NEVER;
    }
    return v;
  }),
);

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
/** `<burst>,<per second>`: the token bucket of each portal link. */
const portalRateLimit = z.pipe(
  z.optional(z.string()),
  z.transform((v, ctx) => {
    if (v === undefined || v.trim() === '') return { ...CONTRACT_DEFAULTS.portalRateLimit };
    const [capacity, refillPerS, ...rest] = v.split(',').map((s) => Number(s.trim()));
    const ok = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n) && n > 0 && n <= 100_000;
    if (rest.length > 0 || !ok(capacity) || !ok(refillPerS) || !Number.isInteger(capacity)) {
      ctx.issues.push({
        code: 'custom',
        message: `must be "<burst>,<calls per second>" such as 120,20, got "${v}"`,
        input: v,
      });
      return z.NEVER;
    }
    return { capacity, refillPerS };
  }),
);

/**
 * `<burst>,<per second>` as HOOKRELAY_PORTAL_RATE_LIMIT reads it: the stack checks its
 * `hookrelay:portalRateLimit` context with the same rule, so a bad value fails the synth.
 */
export function parsePortalRateLimit(text: string): { capacity: number; refillPerS: number } {
  const r = portalRateLimit.safeParse(text);
  if (!r.success) throw new Error(r.error.issues.map((i) => i.message).join('; '));
  return r.data;
}
const portalUrl = z.optional(
  z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://hooks.example.com' }),
);

const schema = z.object({
  [ENV.tableName]: required,
  [ENV.workQueueUrl]: required,
  [ENV.workShardUrls]: urlList,
  [ENV.retryQueueUrl]: required,
  [ENV.isolatedQueueUrl]: required,
  [ENV.dlqUrl]: required,
  [ENV.ingestQueueUrl]: z._default(z.string(), ''),
  [ENV.ingestDlqUrl]: z._default(z.string(), ''),
  [ENV.orderedQueueUrl]: z._default(z.string(), ''),
  [ENV.ingestRetry]: ingestRetry,
  [ENV.apiKey]: z.optional(z.string()),
  [ENV.apiKeySecretArn]: z.optional(z.string()),
  [ENV.retrySchedule]: retrySchedule,
  [ENV.deliveryTimeoutMs]: wholeNumber(CONTRACT_DEFAULTS.deliveryTimeoutMs, 900_000),
  [ENV.allowPrivateTargets]: bool(CONTRACT_DEFAULTS.allowPrivateTargets),
  [ENV.housekeepingRateS]: wholeNumber(CONTRACT_DEFAULTS.housekeepingRateS, 86_400),
  [ENV.retentionDays]: wholeNumber(undefined, 3650),
  [ENV.disableAfterFailingS]: wholeNumber(undefined, 365 * 86_400),
  [ENV.leaseS]: wholeNumber(undefined, 43_200),
  [ENV.responseExcerptBytes]: wholeNumber(undefined, 65_536, 0),
  [ENV.retryJitter]: fraction(0.5),
  [ENV.secretRotationOverlapS]: wholeNumber(undefined, 30 * 86_400, 0),
  [ENV.feedSettleMs]: wholeNumber(undefined, 60_000, 0),
  [ENV.recoverMaxPerCall]: wholeNumber(undefined, 100_000),
  [ENV.isolatedConcurrency]: wholeNumber(2, 1000, 2),
  [ENV.orderedConcurrency]: wholeNumber(10, 1000, 2),
  [ENV.sharedLaneBudgetMs]: wholeNumber(1000, 900_000),
  [ENV.version]: required,
  [ENV.portalFrameAncestors]: frameAncestors,
  [ENV.portalUrl]: portalUrl,
  [ENV.portalRateLimit]: portalRateLimit,
  AWS_REGION: z._default(z.string(), 'us-east-1'),
});

export interface Config {
  readonly tableName: string;
  readonly workQueueUrl: string;
  /** The work queue's shards, in shard order; the first is `workQueueUrl` (one shard: it alone). */
  readonly workShardUrls: readonly string[];
  readonly retryQueueUrl: string;
  readonly isolatedQueueUrl: string;
  readonly dlqUrl: string;
  /** The bus rule's target, drained by the ingest function ('' on the other functions). */
  readonly ingestQueueUrl: string;
  /** Events from the bus that could not be ingested, with their reason ('' on the other functions). */
  readonly ingestDlqUrl: string;
  /** The ordered lane's FIFO queue (strict endpoints); empty: none, and strict endpoints cannot be sent to. */
  readonly orderedQueueUrl: string;
  /** Retries of a bus event that fails for a reason other than itself (the table down, say). */
  readonly ingestRetry: { readonly firstDelayS: number; readonly maxDelayS: number; readonly attempts: number };
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
  /** A delivery claimed by a worker is considered stuck after this long without a result. */
  readonly leaseS: number;
  /** Bytes of the receiver's response body kept with an attempt. */
  readonly responseExcerptBytes: number;
  /** Fraction of each retry delay added or removed at random. */
  readonly retryJitter: number;
  /** After a rotation the previous secret keeps signing beside the new one this long. */
  readonly secretRotationOverlapS: number;
  /** The catch-up feed lists events accepted at least this long ago. */
  readonly feedSettleMs: number;
  /** Failed deliveries one recover call re-sends. */
  readonly recoverMaxPerCall: number;
  /** The isolation lane's maximum concurrency (its event source's). */
  readonly isolatedConcurrency: number;
  /** The ordered lane's event source maximumConcurrency: a strict endpoint's rate is shared out by it. */
  readonly orderedConcurrency: number;
  /** An attempt on a shared lane unanswered after this long is cut and moved to the isolation lane. */
  readonly sharedLaneBudgetMs: number;
  readonly region: string;
  readonly version: string;
  /** Who may frame the portal: the CSP frame-ancestors sources ('none' by default). */
  readonly portalFrameAncestors: string;
  /** The origin portal links point to; by default the one the minting request came to. */
  readonly portalUrl: string | undefined;
  /** Each portal link's token bucket (per api container). */
  readonly portalRateLimit: { readonly capacity: number; readonly refillPerS: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment; throws one ConfigError naming every bad or missing variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')} ${i.message}`));
  }
  const e = result.data;
  const shards = e[ENV.workShardUrls];
  if (shards.length > 0 && shards[0] !== e[ENV.workQueueUrl]) {
    throw new ConfigError([
      `${ENV.workShardUrls} must start with ${ENV.workQueueUrl} (${e[ENV.workQueueUrl]}), got "${shards[0]}"`,
    ]);
  }
  return Object.freeze({
    tableName: e[ENV.tableName],
    workQueueUrl: e[ENV.workQueueUrl],
    workShardUrls: Object.freeze(shards.length > 0 ? shards : [e[ENV.workQueueUrl]]),
    retryQueueUrl: e[ENV.retryQueueUrl],
    isolatedQueueUrl: e[ENV.isolatedQueueUrl],
    dlqUrl: e[ENV.dlqUrl],
    ingestQueueUrl: e[ENV.ingestQueueUrl],
    ingestDlqUrl: e[ENV.ingestDlqUrl],
    orderedQueueUrl: e[ENV.orderedQueueUrl],
    ingestRetry: Object.freeze(e[ENV.ingestRetry]),
    apiKey: e[ENV.apiKey],
    apiKeySecretArn: e[ENV.apiKeySecretArn],
    retryScheduleS: Object.freeze(e[ENV.retrySchedule]),
    deliveryTimeoutMs: e[ENV.deliveryTimeoutMs],
    allowPrivateTargets: e[ENV.allowPrivateTargets],
    housekeepingRateS: e[ENV.housekeepingRateS],
    retentionDays: e[ENV.retentionDays],
    disableAfterFailingS: e[ENV.disableAfterFailingS],
    leaseS: e[ENV.leaseS],
    responseExcerptBytes: e[ENV.responseExcerptBytes],
    retryJitter: e[ENV.retryJitter],
    secretRotationOverlapS: e[ENV.secretRotationOverlapS],
    feedSettleMs: e[ENV.feedSettleMs],
    recoverMaxPerCall: e[ENV.recoverMaxPerCall],
    isolatedConcurrency: e[ENV.isolatedConcurrency],
    orderedConcurrency: e[ENV.orderedConcurrency],
    sharedLaneBudgetMs: e[ENV.sharedLaneBudgetMs],
    region: e.AWS_REGION,
    version: e[ENV.version],
    portalFrameAncestors: e[ENV.portalFrameAncestors],
    portalUrl: e[ENV.portalUrl],
    portalRateLimit: e[ENV.portalRateLimit],
  });
}
