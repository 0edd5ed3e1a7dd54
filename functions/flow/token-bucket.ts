/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. It serves one container's
 * share of an endpoint's rate (gate.ts divides the rate between the containers that may send at
 * once), so nothing about it is ever written to the table.
 *
 * `reserve` hands out future tokens: a delivery over the rate is given the time of its token and
 * waits for it (deferred on a queue), so a burst is spread at the rate instead of retried in a
 * storm. Reserved tokens are counted against the bucket (it goes below zero), so later callers
 * queue behind them.
 */
export class TokenBucket {
  /**
   * When the next token falls due (epoch ms): the bucket is kept as a schedule (GCRA), so a change
   * of rate spaces the tokens still to come and never moves one already handed out.
   */
  private nextAt: number;

  constructor(
    private rate: number,
    private burst: number,
    nowMs: number,
  ) {
    if (!(rate > 0) || !(burst >= 1))
      throw new RangeError(`a bucket needs rate > 0 and burst >= 1 (${rate}, ${burst})`);
    this.nextAt = nowMs - (burst - 1) * this.interval;
  }

  get perSecond(): number {
    return this.rate;
  }

  private get interval(): number {
    return 1000 / this.rate;
  }

  /** The earliest a token may be used: the schedule, or now less the burst's allowance. */
  private base(nowMs: number): number {
    return Math.max(this.nextAt, nowMs - (this.burst - 1) * this.interval);
  }

  /** Changes the rate from now on; tokens already handed out keep their times. */
  setRate(rate: number, burst: number, nowMs: number): void {
    if (!(rate > 0) || !(burst >= 1))
      throw new RangeError(`a bucket needs rate > 0 and burst >= 1 (${rate}, ${burst})`);
    this.nextAt = this.base(nowMs);
    this.rate = rate;
    this.burst = burst;
  }

  /** Takes a token if one is there now; otherwise takes nothing and says how long until one is. */
  take(nowMs: number): { ok: true } | { ok: false; waitMs: number } {
    const base = this.base(nowMs);
    if (base > nowMs) return { ok: false, waitMs: Math.ceil(base - nowMs) };
    this.nextAt = base + this.interval;
    return { ok: true };
  }

  /**
   * Takes the next token, now or in the future: 0 when it is there now, else the milliseconds
   * until the reserved token falls due (the caller must not send before).
   */
  reserve(nowMs: number): number {
    const base = this.base(nowMs);
    this.nextAt = base + this.interval;
    return Math.max(0, Math.ceil(base - nowMs));
  }

  /**
   * Reserves the next token only when it falls due within `maxWaitMs`: `{ waitMs }` to wait for
   * it, or `null`, reserving nothing, when it is further off. For a caller that cannot carry a
   * ticket across a longer wait (the ordered lane holds its message, and asks again when it comes
   * back): a reservation it could not redeem would only push every later token back.
   */
  reserveWithin(nowMs: number, maxWaitMs: number): { waitMs: number } | null {
    const base = this.base(nowMs);
    if (base - nowMs > maxWaitMs) return null;
    this.nextAt = base + this.interval;
    return { waitMs: Math.max(0, Math.ceil(base - nowMs)) };
  }

  /** How long until a token is there (0: now), taking nothing. */
  waitMs(nowMs: number): number {
    return Math.max(0, Math.ceil(this.base(nowMs) - nowMs));
  }
}
