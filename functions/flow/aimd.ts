/**
 * The adaptive rate (additive increase, multiplicative decrease), TCP's answer to congestion:
 * a receiver that says "too many" (429, 503), or whose answers slow down, gets half (or 70 %)
 * of the rate it was sent at; every calm second gives back one request a second (10 % above
 * 10/s). Decreases come at most once per `decreaseEveryMs`, so a burst of 429s answering one
 * window of requests counts once.
 */

export interface AimdOptions {
  /** The lowest adaptive rate, in requests a second. */
  minPerSecond: number;
  /** The highest: above it the endpoint is as good as unthrottled. */
  maxPerSecond: number;
  /** Factor on a 429 or 503. */
  congestionFactor: number;
  /** Factor on rising latency. */
  latencyFactor: number;
  decreaseEveryMs: number;
  increaseEveryMs: number;
}

export const DEFAULT_AIMD: AimdOptions = {
  minPerSecond: 0.5,
  maxPerSecond: 1000,
  congestionFactor: 0.5,
  latencyFactor: 0.7,
  decreaseEveryMs: 1000,
  increaseEveryMs: 1000,
};

/** The rate after a congestion signal, from the rate in force (or, when there was none, the rate observed). */
export function decreased(current: number, factor: number, o: AimdOptions): number {
  return round(Math.max(o.minPerSecond, current * factor));
}

/** The rate after a calm interval. */
export function increased(current: number, o: AimdOptions): number {
  return round(Math.min(o.maxPerSecond, current < 10 ? current + 1 : current * 1.1));
}

const round = (r: number) => Math.round(r * 100) / 100;

/**
 * Rising latency: an answer much slower than the endpoint's usual (its moving average), and
 * slow in absolute terms. A steady slow endpoint is not rising; one that slows down under load is.
 */
export function latencyRising(durationMs: number, baselineMs: number | undefined, floorMs: number): boolean {
  return baselineMs !== undefined && durationMs >= floorMs && durationMs > 3 * baselineMs;
}

/** The moving average of an endpoint's answer times (successes). */
export function nextBaseline(baselineMs: number | undefined, durationMs: number): number {
  return baselineMs === undefined ? durationMs : baselineMs * 0.8 + durationMs * 0.2;
}
