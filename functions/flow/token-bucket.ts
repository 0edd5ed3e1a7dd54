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
  private tokens: number;
  private at: number;

  constructor(
    private rate: number,
    private burst: number,
    nowMs: number,
  ) {
    if (!(rate > 0) || !(burst >= 1))
      throw new RangeError(`a bucket needs rate > 0 and burst >= 1 (${rate}, ${burst})`);
    this.tokens = burst;
    this.at = nowMs;
  }

  get perSecond(): number {
    return this.rate;
  }

  private refill(nowMs: number): void {
    if (nowMs > this.at) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.at) / 1000) * this.rate);
      this.at = nowMs;
    }
  }

  /** Changes the rate from now on; tokens already earned (or reserved) are kept, within the new burst. */
  setRate(rate: number, burst: number, nowMs: number): void {
    if (!(rate > 0) || !(burst >= 1))
      throw new RangeError(`a bucket needs rate > 0 and burst >= 1 (${rate}, ${burst})`);
    this.refill(nowMs);
    this.rate = rate;
    this.burst = burst;
    this.tokens = Math.min(this.tokens, burst);
  }

  /** Takes a token if one is there now; otherwise takes nothing and says how long until one is. */
  take(nowMs: number): { ok: true } | { ok: false; waitMs: number } {
    this.refill(nowMs);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, waitMs: Math.ceil(((1 - this.tokens) / this.rate) * 1000) };
  }

  /**
   * Takes the next token, now or in the future: 0 when it is there now, else the milliseconds
   * until the reserved token falls due (the caller must not send before).
   */
  reserve(nowMs: number): number {
    this.refill(nowMs);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.rate) * 1000);
  }
}
