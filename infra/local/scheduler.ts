/**
 * The housekeeping schedule (an EventBridge `rate(...)` rule on AWS): invokes the housekeeping
 * function with a real ScheduledEvent every `rateS` seconds. Runs never overlap: a tick that
 * comes while a run is still going is skipped.
 */
import { randomUUID } from 'node:crypto';
import type { ScheduledEvent } from 'aws-lambda';
import type { Log } from './log';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from './lambda';

export const HOUSEKEEPING_RULE_ARN = `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:rule/hookrelay-housekeeping`;

export interface SchedulerOptions {
  rateS: number;
  invoke: (event: ScheduledEvent) => Promise<unknown>;
  log: Log;
  /**
   * The detail of a run made right away, or nothing for no such run. The local stack asks for
   * `{ recover: true }` over a kept data dir: the queues did not survive the restart, the table
   * did, and this run re-enqueues what the queues lost without waiting a whole period.
   */
  startDetail?: Record<string, unknown>;
  /** Periodic runs at all (default true); runNow() works either way. */
  periodic?: boolean;
  /** The event a run sends; default a Scheduled Event of the housekeeping rule. */
  event?: (detail: Record<string, unknown> | undefined) => unknown;
}

export interface Scheduler {
  /**
   * Runs housekeeping now, after any run in progress, and returns what the handler returned;
   * `detail` as for `startDetail` (`{ recover: true }` after the queues lost their state).
   */
  runNow(detail?: Record<string, unknown>): Promise<unknown>;
  /** Cancels the schedule and waits for a run in progress. */
  stop(): Promise<void>;
}

export function scheduledEvent(
  detail: Record<string, unknown> = {},
  now = new Date(),
  ruleArn = HOUSEKEEPING_RULE_ARN,
): ScheduledEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: LOCAL_ACCOUNT_ID,
    time: now.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: LOCAL_REGION,
    resources: [ruleArn],
    detail,
  };
}

export function startScheduler(opts: SchedulerOptions): Scheduler {
  let current: Promise<unknown> | undefined;
  let stopped = false;

  const run = (detail?: Record<string, unknown>): Promise<unknown> => {
    const p = opts.invoke((opts.event ? opts.event(detail) : scheduledEvent(detail)) as ScheduledEvent);
    current = p;
    void p
      .then(
        () => {},
        () => {},
      )
      .finally(() => {
        if (current === p) current = undefined;
      });
    return p;
  };

  const tick = (detail?: Record<string, unknown>) => {
    if (stopped) return;
    if (current) {
      opts.log.warn('housekeeping is still running; this tick is skipped');
      return;
    }
    run(detail).catch((err: unknown) => opts.log.error('housekeeping failed', err));
  };

  const timer = opts.periodic === false ? undefined : setInterval(tick, opts.rateS * 1000);
  const { startDetail } = opts;
  if (startDetail) setImmediate(() => tick(startDetail));

  return {
    async runNow(detail) {
      if (stopped) throw new Error('the housekeeping schedule is stopped');
      // Chained: concurrent callers each get a run of their own, one after another.
      while (current) await current.catch(() => {});
      return run(detail);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      while (current) await current.catch(() => {});
    },
  };
}
