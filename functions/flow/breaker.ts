/**
 * The circuit breaker of one endpoint, in one container: closed while attempts succeed; open
 * (the endpoint paused) after `failuresToOpen` failed attempts in a row; then one probe at a
 * time, every `firstProbeAfterMs`, doubled after each failed probe up to `maxProbeEveryMs`; the
 * first success closes it. Pure: the gate keeps the state and persists what other containers
 * must know (the pause and its next probe) on the endpoint's record.
 */

export interface BreakerOptions {
  /** Failed attempts in a row (5xx, 3xx, other 4xx, timeouts, connection errors) that pause. */
  failuresToOpen: number;
  /** The first wait before a probe. */
  firstProbeAfterMs: number;
  /** The longest wait between probes (SQS's longest delay: a waiting delivery needs one hop). */
  maxProbeEveryMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  failuresToOpen: 5,
  firstProbeAfterMs: 30_000,
  maxProbeEveryMs: 900_000,
};

export type BreakerState =
  { kind: 'closed'; failures: number } | { kind: 'open'; probeAtMs: number; probeEveryMs: number; probing: boolean };

export const closedBreaker = (): BreakerState => ({ kind: 'closed', failures: 0 });

/** After a failed attempt (a probe included). */
export function breakerFailed(s: BreakerState, nowMs: number, o: BreakerOptions): BreakerState {
  if (s.kind === 'open') {
    // A failed probe (or a straggler that was in flight when it opened): wait longer.
    const every = s.probing ? Math.min(o.maxProbeEveryMs, s.probeEveryMs * 2) : s.probeEveryMs;
    return { kind: 'open', probeAtMs: nowMs + every, probeEveryMs: every, probing: false };
  }
  const failures = s.failures + 1;
  if (failures < o.failuresToOpen) return { kind: 'closed', failures };
  return { kind: 'open', probeAtMs: nowMs + o.firstProbeAfterMs, probeEveryMs: o.firstProbeAfterMs, probing: false };
}

/** Whether an attempt may go now as the probe; if so, the state that records it in flight. */
export function breakerProbe(s: BreakerState, nowMs: number): BreakerState | null {
  if (s.kind !== 'open' || s.probing || nowMs < s.probeAtMs) return null;
  return { ...s, probing: true };
}
