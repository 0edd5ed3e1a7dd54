/**
 * The flow-control gate: before an attempt, "may I send to this endpoint now, and if not, when?";
 * after it, what the answer says about the endpoint. One gate per container (a Lambda execution
 * environment); it keeps each endpoint's rate, breaker and latency in memory and returns the rare
 * state changes other containers must know, which the caller writes on the endpoint's record.
 *
 * Lanes (docs/flow-control.md):
 * - `shared`: the work and retry queues every endpoint shares. Only endpoints in good standing
 *   send there, and each attempt has `sharedBudgetMs` to answer: a shared batch never lasts
 *   longer. Anything else moves to the isolation lane (`moveTo`).
 * - `isolated`: the queue of throttled, paused, rate-limited and slow endpoints. The rate is
 *   enforced here, as this container's share of it: the lane's event source runs at most
 *   `laneConcurrency` batches at once, one per container, so shares of `perSecond / concurrency`
 *   never add up to more than `perSecond`.
 * - `ordered`: the FIFO lane of strict endpoints (functions/ordering), paced the same way.
 *
 * @example
 * const gate = createFlowGate();
 * const a = gate.admit(endpoint, 'isolated', Date.now());
 * if (!a.go) deferUntil(Date.now() + a.waitMs, a.ticketAtMs);   // no attempt counted
 * else { const r = await send(); const change = gate.observe(endpoint, signalOf(r), Date.now()); if (change) await save(change.throttle); }
 */
import { DEFAULT_AIMD, decreased, increased, latencyRising, nextBaseline, type AimdOptions } from './aimd';
import {
  breakerFailed,
  breakerProbe,
  closedBreaker,
  DEFAULT_BREAKER,
  type BreakerOptions,
  type BreakerState,
} from './breaker';
import { RESUME_PER_SECOND, type RateLimit, type StoredThrottle } from './throttle';
import { TokenBucket } from './token-bucket';

export type Lane = 'shared' | 'isolated' | 'ordered';

/** What the gate needs of an endpoint: who it is, its configured limit and its stored state. */
export interface FlowEndpoint {
  id: string;
  appId: string;
  rateLimit?: RateLimit | null;
  throttle?: StoredThrottle;
}

export type WaitReason = 'rate' | 'retry_after' | 'paused' | 'isolate';

export type Admission =
  | {
      go: true;
      /** The attempt's timeout when it must be shorter than the configured one (the shared lane's budget). */
      budgetMs?: number;
      /** Wait this long first: a reserved token falls due within the second. */
      sleepMs?: number;
      /** This attempt is the breaker's probe. */
      probe?: true;
    }
  | {
      go: false;
      /** How long to wait before asking again (0: at once, on the other lane). */
      waitMs: number;
      reason: WaitReason;
      /** Ask again on this lane. */
      moveTo?: 'isolated';
      /** A token reserved for this delivery at this time: pass it back when it returns. */
      ticketAtMs?: number;
    };

/** What an attempt's answer says about the endpoint. */
export type FlowSignal =
  | { kind: 'success'; durationMs: number }
  /** 429 or 503; `retryAfterS` from the receiver's Retry-After. */
  | { kind: 'congested'; statusCode: number; retryAfterS?: number; durationMs: number }
  /** A failed attempt: another status, a timeout, a connection error. */
  | {
      kind: 'failed';
      error: string;
      timeout: boolean;
      durationMs: number;
      /**
       * A delivery's first attempt: it does not count toward the breaker. A receiver that fails
       * a burst of first attempts and takes the retries (a flaky one) is not one that keeps
       * failing; one whose retries fail too is.
       */
      firstAttempt?: boolean;
    }
  /** Cut at the shared lane's budget, unanswered: it goes to the isolation lane, not counted. */
  | { kind: 'cut'; durationMs: number }
  /** Says nothing about the endpoint's health (410 disables it; a refused destination). */
  | { kind: 'neutral' };

/** A state change to write on the endpoint's record (`null`: back to normal). */
export interface ThrottleChange {
  throttle: StoredThrottle | null;
}

export interface FlowGateOptions {
  /** Batches each lane's event source runs at once (its maximumConcurrency). */
  laneConcurrency: { isolated: number; ordered: number };
  /** Invocations of a lane this container runs at once: 1 on Lambda; more where a local runtime shares one. */
  containerSlots?: (lane: Lane) => number;
  /** How long an attempt may take on a shared lane before it is cut and moved. */
  sharedBudgetMs: number;
  /** Throttled endpoints go back to normal after this long without a bad signal. */
  calmToNormalMs: number;
  /** Resuming after a pause starts at this rate. */
  resumePerSecond: number;
  aimd?: AimdOptions;
  breaker?: BreakerOptions;
  /** Spreads waits (0..1); injectable so tests are exact. */
  random?: () => number;
}

export const DEFAULT_FLOW: FlowGateOptions = {
  laneConcurrency: { isolated: 2, ordered: 10 },
  sharedBudgetMs: 1000,
  calmToNormalMs: 60_000,
  resumePerSecond: RESUME_PER_SECOND,
};

/** One endpoint's state in this container. */
interface Flow {
  /** The state in force here (absent: normal). */
  throttle: StoredThrottle | undefined;
  /** The last state this container wrote or adopted (for deciding what to write). */
  persisted: StoredThrottle | undefined;
  breaker: BreakerState;
  bucket?: TokenBucket;
  /** Until then, a receiver's Retry-After holds every attempt. */
  holdUntilMs: number;
  lastDecreaseMs: number;
  lastIncreaseMs: number;
  /** The last 429/503, rising latency, slowness or failure. */
  lastBadMs: number;
  baselineMs?: number;
  /** Recent sends (epoch ms), for the rate observed before the first decrease. */
  sent: number[];
  lastWriteMs: number;
  /** Successes in a row answered well within the budget (a slow mark's way back). */
  fastStreak: number;
  /** The newest `since` this container set, cleared or adopted: only a newer stored state is adopted. */
  knownSince: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A slow mark is lifted before the calm minute by this many answers in a row, each within a
 * quarter of the shared budget, the last at least `SLOW_RECOVERY_MS` after the last bad signal:
 * one cut attempt (a blip: a GC pause, a busy moment) does not isolate an endpoint for a minute,
 * while one that keeps answering slowly or not at all never gets there.
 */
const SLOW_RECOVERY_ANSWERS = 20;
/** The longest an ordered-lane attempt waits for its token in the function, not by holding. */
const ORDERED_WAIT_IN_FUNCTION_MS = 1000;
const SLOW_RECOVERY_MS = 5000;

export function createFlowGate(options: Partial<FlowGateOptions> = {}) {
  const o: FlowGateOptions = { ...DEFAULT_FLOW, ...options };
  const aimd = o.aimd ?? DEFAULT_AIMD;
  const breakerOpts = o.breaker ?? DEFAULT_BREAKER;
  const random = o.random ?? Math.random;
  const slots = o.containerSlots ?? (() => 1);
  const flows = new Map<string, Flow>();

  function flowOf(e: FlowEndpoint, now: number): Flow {
    const id = `${e.appId}/${e.id}`;
    let f = flows.get(id);
    if (!f) {
      if (flows.size > 10_000) flows.clear();
      f = {
        throttle: undefined,
        persisted: undefined,
        breaker: closedBreaker(),
        holdUntilMs: 0,
        lastDecreaseMs: 0,
        lastIncreaseMs: 0,
        lastBadMs: 0,
        sent: [],
        lastWriteMs: 0,
        fastStreak: 0,
        knownSince: '',
      };
      flows.set(id, f);
    }
    // Another container's newer state wins (a pause it saw, a rate it lowered).
    const stored = e.throttle;
    if (stored && stored.since > f.knownSince) adopt(f, stored, now);
    return f;
  }

  function adopt(f: Flow, t: StoredThrottle, now: number): void {
    f.knownSince = t.since;
    f.throttle = t;
    f.persisted = t;
    f.lastBadMs = Math.max(f.lastBadMs, Date.parse(t.since));
    if (t.state === 'paused') {
      const every = t.probeEveryMs ?? breakerOpts.firstProbeAfterMs;
      const at = t.until ? Date.parse(t.until) : now + every;
      f.breaker = { kind: 'open', probeAtMs: at, probeEveryMs: every, probing: false };
    } else {
      f.breaker = closedBreaker();
      if (t.until) f.holdUntilMs = Math.max(f.holdUntilMs, Date.parse(t.until));
    }
  }

  /** The rate this endpoint is sent at (fleet-wide), or undefined for as fast as it comes. */
  function rateOf(e: FlowEndpoint, f: Flow): number | undefined {
    const rates = [e.rateLimit?.perSecond, f.throttle?.state === 'throttled' ? f.throttle.perSecond : undefined];
    const defined = rates.filter((r): r is number => r !== undefined);
    return defined.length === 0 ? undefined : Math.min(...defined);
  }

  function bucketFor(f: Flow, lane: Lane, perSecond: number, now: number): TokenBucket {
    const concurrency = lane === 'ordered' ? o.laneConcurrency.ordered : o.laneConcurrency.isolated;
    const share = (perSecond * Math.max(1, slots(lane))) / Math.max(1, concurrency);
    if (!f.bucket) f.bucket = new TokenBucket(share, 1, now);
    else if (f.bucket.perSecond !== share) f.bucket.setRate(share, 1, now);
    return f.bucket;
  }

  function noteSend(f: Flow, now: number): void {
    f.sent.push(now);
    while (f.sent.length > 0 && (f.sent[0] as number) < now - 1000) f.sent.shift();
    if (f.sent.length > 2000) f.sent.splice(0, f.sent.length - 2000);
  }

  const needsIsolation = (e: FlowEndpoint, f: Flow) => Boolean(e.rateLimit) || f.throttle !== undefined;

  function admit(e: FlowEndpoint, lane: Lane, now: number, opts: { ticketAtMs?: number } = {}): Admission {
    const f = flowOf(e, now);
    if (f.breaker.kind === 'open') {
      if (lane === 'shared') return { go: false, waitMs: 0, reason: 'paused', moveTo: 'isolated' };
      const probing = breakerProbe(f.breaker, now);
      if (probing) {
        f.breaker = probing;
        noteSend(f, now);
        return { go: true, probe: true };
      }
      // Spread the waiting deliveries over the next interval, so a resume is not a stampede.
      const base = f.breaker.probing ? 5000 : Math.max(1000, f.breaker.probeAtMs - now);
      return {
        go: false,
        waitMs: Math.round(base + random() * Math.min(30_000, f.breaker.probeEveryMs / 2)),
        reason: 'paused',
      };
    }
    if (lane === 'shared') {
      if (needsIsolation(e, f)) return { go: false, waitMs: 0, reason: 'isolate', moveTo: 'isolated' };
      noteSend(f, now);
      return { go: true, budgetMs: o.sharedBudgetMs };
    }
    // A receiver's Retry-After holds every attempt to it.
    if (f.holdUntilMs > now) {
      return { go: false, waitMs: f.holdUntilMs - now + Math.round(random() * 1000), reason: 'retry_after' };
    }
    // A token reserved when this delivery was deferred: it is due now (or within the second).
    if (opts.ticketAtMs !== undefined && opts.ticketAtMs <= now + 1000) {
      noteSend(f, now);
      return opts.ticketAtMs > now ? { go: true, sleepMs: opts.ticketAtMs - now } : { go: true };
    }
    const perSecond = rateOf(e, f);
    if (perSecond === undefined) {
      noteSend(f, now);
      return { go: true };
    }
    const bucket = bucketFor(f, lane, perSecond, now);
    if (lane === 'ordered') {
      // A held head comes back with no ticket: it reserves only a token due within the second
      // (waited for in the function), and otherwise asks again when its wait is over.
      const soon = bucket.reserveWithin(now, ORDERED_WAIT_IN_FUNCTION_MS);
      if (!soon) return { go: false, waitMs: bucket.waitMs(now) + Math.round(random() * 250), reason: 'rate' };
      noteSend(f, now);
      return soon.waitMs > 0 ? { go: true, sleepMs: soon.waitMs } : { go: true };
    }
    const waitMs = bucket.reserve(now);
    if (waitMs === 0) {
      noteSend(f, now);
      return { go: true };
    }
    return { go: false, waitMs, reason: 'rate', ticketAtMs: now + waitMs };
  }

  /** The change to write, when the state differs enough from what was last written or adopted. */
  function changeOf(f: Flow, now: number): ThrottleChange | null {
    const t = f.throttle;
    const p = f.persisted;
    if (!t) {
      if (!p) return null;
      f.persisted = undefined;
      f.lastWriteMs = now;
      return { throttle: null };
    }
    const differs =
      !p ||
      p.state !== t.state ||
      p.until !== t.until ||
      Boolean(p.slow) !== Boolean(t.slow) ||
      (p.perSecond === undefined) !== (t.perSecond === undefined) ||
      (p.perSecond !== undefined &&
        t.perSecond !== undefined &&
        Math.abs(t.perSecond - p.perSecond) >= 0.25 * p.perSecond &&
        (t.perSecond < p.perSecond || now - f.lastWriteMs >= 1000));
    if (!differs) return null;
    f.persisted = t;
    f.lastWriteMs = now;
    return { throttle: t };
  }

  function setThrottle(f: Flow, now: number, t: Omit<StoredThrottle, 'since'>): void {
    const next: StoredThrottle = { ...t, since: iso(now) };
    for (const k of Object.keys(next) as (keyof StoredThrottle)[]) if (next[k] === undefined) delete next[k];
    f.throttle = next;
    f.knownSince = next.since;
  }

  function observedRate(f: Flow, now: number): number {
    const recent = f.sent.filter((t) => t >= now - 1000).length;
    return Math.max(aimd.minPerSecond, recent);
  }

  function decrease(e: FlowEndpoint, f: Flow, now: number, factor: number, reason: string, untilMs?: number): void {
    f.lastBadMs = now;
    const current = rateOf(e, f) ?? observedRate(f, now);
    const recent = now - f.lastDecreaseMs < aimd.decreaseEveryMs;
    const perSecond =
      recent && f.throttle?.perSecond !== undefined ? f.throttle.perSecond : decreased(current, factor, aimd);
    if (!recent) f.lastDecreaseMs = now;
    f.lastIncreaseMs = now;
    const until = untilMs !== undefined && untilMs > now ? iso(untilMs) : undefined;
    setThrottle(f, now, { state: 'throttled', perSecond, reason, until, slow: f.throttle?.slow });
  }

  /** A success: the breaker closes; slowness, rising latency or calm move the rate. */
  function observeSuccess(
    e: FlowEndpoint,
    f: Flow,
    signal: { durationMs: number },
    now: number,
  ): ThrottleChange | null {
    const wasOpen = f.breaker.kind === 'open';
    f.breaker = closedBreaker();
    const rising = latencyRising(signal.durationMs, f.baselineMs, o.sharedBudgetMs / 2);
    f.baselineMs = nextBaseline(f.baselineMs, signal.durationMs);
    const slowNow = signal.durationMs >= o.sharedBudgetMs;
    f.fastStreak = signal.durationMs < o.sharedBudgetMs / 4 ? f.fastStreak + 1 : 0;
    if (wasOpen) {
      setThrottle(f, now, {
        state: 'throttled',
        perSecond: o.resumePerSecond,
        reason: 'resuming after a pause (a probe succeeded)',
        slow: f.throttle?.slow,
      });
      f.lastIncreaseMs = now;
      f.lastBadMs = now;
      return changeOf(f, now);
    }
    if (slowNow) {
      f.lastBadMs = now;
      if (!f.throttle?.slow) {
        setThrottle(f, now, {
          ...(f.throttle ?? { state: 'throttled', reason: '' }),
          state: 'throttled',
          reason: `slow: answered in ${signal.durationMs} ms`,
          slow: true,
        });
      }
    } else if (rising && now - f.lastDecreaseMs >= aimd.decreaseEveryMs) {
      decrease(e, f, now, aimd.latencyFactor, `rising latency: ${signal.durationMs} ms`);
    } else if (f.throttle) {
      if (now - f.lastBadMs >= o.calmToNormalMs) {
        f.throttle = undefined;
        f.bucket = undefined;
        f.knownSince = iso(now);
      } else if (f.throttle.slow && f.fastStreak >= SLOW_RECOVERY_ANSWERS && now - f.lastBadMs >= SLOW_RECOVERY_MS) {
        liftSlowMark(f, now);
      } else if (f.throttle.perSecond !== undefined && now - f.lastIncreaseMs >= aimd.increaseEveryMs) {
        f.lastIncreaseMs = now;
        const perSecond = increased(f.throttle.perSecond, aimd);
        const until = f.throttle.until && Date.parse(f.throttle.until) > now ? f.throttle.until : undefined;
        if (perSecond >= aimd.maxPerSecond && !f.throttle.slow && until === undefined) {
          // Back at the ceiling, the rate limits nothing: the endpoint is as good as
          // unthrottled, and keeping it isolated would only cost each delivery a hop.
          f.throttle = undefined;
          f.bucket = undefined;
          f.knownSince = iso(now);
        } else {
          f.throttle = { ...f.throttle, perSecond, since: iso(now) };
          if (until === undefined) delete f.throttle.until;
          f.knownSince = f.throttle.since;
        }
      }
    }
    return changeOf(f, now);
  }

  function observe(e: FlowEndpoint, signal: FlowSignal, now: number): ThrottleChange | null {
    const f = flowOf(e, now);
    switch (signal.kind) {
      case 'neutral':
        return null;
      case 'success':
        return observeSuccess(e, f, signal, now);
      case 'congested': {
        f.fastStreak = 0;
        // A Retry-After holds every attempt to the endpoint until it ends (the receiver's quota
        // is the endpoint's, not one delivery's); answers to requests sent before the hold began
        // are not a new signal.
        const untilMs = signal.retryAfterS !== undefined ? now + Math.min(signal.retryAfterS, 3600) * 1000 : undefined;
        const withinHold = f.holdUntilMs > now;
        if (untilMs !== undefined) f.holdUntilMs = Math.max(f.holdUntilMs, untilMs);
        f.breaker = f.breaker.kind === 'open' ? breakerFailed(f.breaker, now, breakerOpts) : closedBreaker();
        if (f.breaker.kind === 'open') return pausedChange(f, now, `HTTP ${signal.statusCode} to a probe`);
        if (withinHold && f.throttle?.perSecond !== undefined) {
          f.lastBadMs = now;
          return changeOf(f, now);
        }
        decrease(e, f, now, aimd.congestionFactor, `HTTP ${signal.statusCode}`, untilMs);
        return changeOf(f, now);
      }
      case 'cut': {
        f.lastBadMs = now;
        f.fastStreak = 0;
        if (!f.throttle?.slow) {
          setThrottle(f, now, {
            ...(f.throttle ?? { state: 'throttled', reason: '' }),
            state: 'throttled',
            reason: `slow: no answer within ${o.sharedBudgetMs} ms`,
            slow: true,
          });
        }
        return changeOf(f, now);
      }
      case 'failed': {
        f.lastBadMs = now;
        f.fastStreak = 0;
        const before = f.breaker;
        if (!signal.firstAttempt || before.kind === 'open') f.breaker = breakerFailed(before, now, breakerOpts);
        if (f.breaker.kind === 'open') {
          const what =
            before.kind === 'open' ? 'a probe failed' : `${breakerOpts.failuresToOpen} failed attempts in a row`;
          return pausedChange(f, now, `${what} (last: ${signal.error})`);
        }
        if (signal.timeout && !f.throttle?.slow) {
          setThrottle(f, now, {
            ...(f.throttle ?? { state: 'throttled', reason: '' }),
            state: 'throttled',
            reason: `slow: ${signal.error}`,
            slow: true,
          });
        }
        return changeOf(f, now);
      }
    }
  }

  /** Fast again: the slow mark goes; a rate or a hold in force stays (without them, normal). */
  function liftSlowMark(f: Flow, now: number): void {
    const t = f.throttle;
    if (!t) return;
    if (t.perSecond === undefined && t.until === undefined) {
      f.throttle = undefined;
      f.bucket = undefined;
      f.knownSince = iso(now);
      return;
    }
    const { slow: _slow, ...rest } = t;
    setThrottle(f, now, { ...rest, reason: 'answering fast again' });
  }

  function pausedChange(f: Flow, now: number, reason: string): ThrottleChange | null {
    if (f.breaker.kind !== 'open') return null;
    setThrottle(f, now, {
      state: 'paused',
      until: iso(f.breaker.probeAtMs),
      reason,
      probeEveryMs: f.breaker.probeEveryMs,
      slow: f.throttle?.slow,
    });
    return changeOf(f, now);
  }

  return {
    admit,
    observe,
    /** The lane this endpoint's next attempts belong on (a retry is scheduled there). */
    laneFor(e: FlowEndpoint, now: number): 'shared' | 'isolated' {
      const f = flowOf(e, now);
      return f.breaker.kind === 'open' || needsIsolation(e, f) ? 'isolated' : 'shared';
    },
    /** This container's view of an endpoint's state (for tests and logs). */
    stateOf(e: FlowEndpoint, now: number): StoredThrottle | undefined {
      return flowOf(e, now).throttle;
    },
  };
}

export type FlowGate = ReturnType<typeof createFlowGate>;
