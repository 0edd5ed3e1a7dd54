/**
 * `hookrelay events send|show|attempts|resend` and `hookrelay deliveries tail`: the API side of
 * the CLI, for trying a deployment, looking at one event, sending it again, and following its
 * deliveries until they finish.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { apiClient, type DeliveryState, type EventState } from '../api';
import { resolveApi } from '../context';
import { OperationError, UsageError } from '../io';
import { duration, missingSubcommand, type Runtime } from '../runtime';

const FINISHED = new Set(['succeeded', 'failed', 'skipped']);
/** Consecutive unreachable polls `tail` tolerates (a network blip) before it gives up. */
const TAIL_MAX_ERRORS = 5;

/** The --data JSON, as given: the API checks that it is an object and says so if not. */
function readData(text: string): Record<string, unknown> {
  let source = text;
  if (text.startsWith('@')) {
    try {
      source = readFileSync(text.slice(1), 'utf8');
    } catch (err) {
      throw new UsageError(
        `--data ${text}: cannot read the file (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
      );
    }
  }
  try {
    return JSON.parse(source) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--data is not valid JSON: ${(err as Error).message}`);
  }
}

export function registerEvents(program: Command, rt: Runtime): void {
  const events = program.command('events').description('send events through the API');
  missingSubcommand(events);
  events
    .command('send')
    .summary('send one event and print the 202 answer')
    .description('send one event (POST /v1/apps/{appId}/events) and print the 202 answer')
    .requiredOption('--app <appId>', 'the app (tenant) the event belongs to')
    .requiredOption('--type <type>', 'the event type, e.g. invoice.paid')
    .requiredOption('--data <json>', 'the event data: a JSON object, or @file.json')
    .option('--id <id>', 'the event id; sending the same id again delivers nothing new (idempotency)')
    .option(
      '--ordering-key <key>',
      'strict endpoints receive the events that share this key one at a time, in accept order',
    )
    .action(async (o: { app: string; type: string; data: string; id?: string; orderingKey?: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const data = readData(o.data);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const accepted = await api.sendEvent(o.app, {
        type: o.type,
        data,
        ...(o.id === undefined ? {} : { id: o.id }),
        ...(o.orderingKey === undefined ? {} : { orderingKey: o.orderingKey }),
      });
      if (g.opts.json) rt.out.json(accepted);
      else rt.out.line(JSON.stringify(accepted, null, 2));
    });

  events
    .command('show')
    .summary('print an event with the state of each of its deliveries')
    .requiredOption('--app <appId>', 'the app the event belongs to')
    .requiredOption('--event <eventId>', 'the event id (the webhook-id)')
    .action(async (o: { app: string; event: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const event = await api.getEvent(o.app, o.event);
      if (g.opts.json) rt.out.json(event);
      else rt.out.line(JSON.stringify(event, null, 2));
    });

  events
    .command('attempts')
    .summary("list every attempt of an event's deliveries: when, HTTP status, duration, outcome, error")
    .requiredOption('--app <appId>', 'the app the event belongs to')
    .requiredOption('--event <eventId>', 'the event id (the webhook-id)')
    .action(async (o: { app: string; event: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const { items } = await api.eventAttempts(o.app, o.event);
      if (g.opts.json) {
        for (const a of items) rt.out.json(a);
        return;
      }
      if (items.length === 0) rt.out.line(`event ${o.event} has no attempts yet`);
      for (const a of items) {
        const status = a.statusCode === null ? 'no answer' : `HTTP ${a.statusCode}`;
        const error = a.error ? `  ${a.error}` : '';
        rt.out.line(`${a.at}  ${a.endpointId}  #${a.attempt}  ${a.outcome}  ${status}  ${a.durationMs} ms${error}`);
      }
    });

  events
    .command('resend')
    .summary('send an event again to its endpoints (or one), as a new delivery')
    .requiredOption('--app <appId>', 'the app the event belongs to')
    .requiredOption('--event <eventId>', 'the event id (the webhook-id)')
    .option('--endpoint <endpointId>', 'only to this endpoint')
    .action(async (o: { app: string; event: string; endpoint?: string }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const answer = await api.resendEvent(o.app, o.event, o.endpoint === undefined ? {} : { endpointId: o.endpoint });
      if (g.opts.json) rt.out.json(answer);
      else rt.out.line(JSON.stringify(answer, null, 2));
    });

  const deliveries = program.command('deliveries').description("follow an event's deliveries through the API");
  missingSubcommand(deliveries);
  deliveries
    .command('tail')
    .summary("print an event's delivery status changes until all are finished")
    .description(
      "poll GET /v1/apps/{appId}/events/{eventId} and print each delivery's status changes until all " +
        'are finished (succeeded, failed or skipped); exits 0, or 1 if any failed',
    )
    .requiredOption('--app <appId>', 'the app the event belongs to')
    .requiredOption('--event <eventId>', 'the event id (the webhook-id)')
    .option('--interval <duration>', 'time between polls, e.g. 500ms, 1s, 1m', duration('--interval', 100), 1000)
    .option(
      '--timeout <duration>',
      'give up (exit 1) after this long; default: wait as long as it takes',
      duration('--timeout', 1),
    )
    .action(async (o: { app: string; event: string; interval: number; timeout?: number }, cmd: Command) => {
      const g = rt.globals(cmd);
      const api = apiClient(resolveApi(g.opts, rt.io));
      const json = g.opts.json === true;
      const deadline = o.timeout === undefined ? Infinity : Date.now() + o.timeout;
      const seen = new Map<string, DeliveryState>();
      let errors = 0;
      for (;;) {
        let event: EventState;
        try {
          event = await api.getEvent(o.app, o.event);
          errors = 0;
        } catch (err) {
          // An API answer (404, 401...) will not change by waiting; an unreachable API might.
          if ((err as { status?: number }).status !== undefined || ++errors >= TAIL_MAX_ERRORS) throw err;
          rt.err.line(`${(err as Error).message}; trying again`);
          await new Promise((r) => setTimeout(r, o.interval));
          continue;
        }
        const changed = event.deliveries.filter((d) => {
          const before = seen.get(d.endpointId);
          return !before || before.status !== d.status || before.attempts !== d.attempts;
        });
        // Why the last attempt failed (a refused connection has no status code): one more read,
        // only when an attempt was made since the last poll.
        const lastErrors = new Map<string, string>();
        if (changed.some((d) => d.attempts > (seen.get(d.endpointId)?.attempts ?? 0))) {
          const { items } = await api.eventAttempts(o.app, o.event).catch(() => ({ items: [] }));
          for (const a of items) if (a.error) lastErrors.set(`${a.endpointId} ${a.attempt}`, a.error);
        }
        for (const d of changed) {
          printChange(rt, json, event.id, seen.get(d.endpointId), d, lastErrors.get(`${d.endpointId} ${d.attempts}`));
          seen.set(d.endpointId, d);
        }
        if (event.deliveries.every((d) => FINISHED.has(d.status))) {
          const count = (s: string) => event.deliveries.filter((d) => d.status === s).length;
          const summary = { succeeded: count('succeeded'), failed: count('failed'), skipped: count('skipped') };
          if (json) rt.out.json({ eventId: event.id, finished: true, ...summary });
          else
            rt.out.line(
              `all ${event.deliveries.length} deliveries finished: ${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.skipped} skipped`,
            );
          if (summary.failed > 0)
            throw new OperationError(
              `${summary.failed} of ${event.deliveries.length} deliveries of ${event.id} failed`,
            );
          return;
        }
        if (Date.now() + o.interval > deadline)
          throw new OperationError(`timed out: deliveries of ${event.id} are not finished yet`);
        await new Promise((r) => setTimeout(r, o.interval));
      }
    });
}

function printChange(
  rt: Runtime,
  json: boolean,
  eventId: string,
  before: DeliveryState | undefined,
  d: DeliveryState,
  lastError: string | undefined,
): void {
  const at = new Date().toISOString();
  if (json) {
    rt.out.json({ at, eventId, from: before?.status ?? null, ...d, ...(lastError ? { lastError } : {}) });
    return;
  }
  const change = before ? `${before.status} -> ${d.status}` : d.status;
  const parts = [`attempts ${d.attempts}`];
  if (d.lastStatusCode !== null) parts.push(`last HTTP ${d.lastStatusCode}`);
  if (lastError) parts.push(`last error: ${lastError}`);
  if (d.nextAttemptAt) parts.push(`next attempt ${d.nextAttemptAt}`);
  rt.out.line(`${at.slice(11, 23)}  ${d.endpointId}  ${change}  (${parts.join(', ')})`);
}
