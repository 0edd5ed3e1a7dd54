/**
 * `hookrelay dlq list | show | redrive | purge`: the dead-letter queue, where deliveries end when
 * the worker gives up (their body carries `reason`) and where the redrive policy puts messages
 * the worker could not handle at all (poison messages).
 */
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import type { Command } from 'commander';
import { resolveQueues, sqsClient, withContext, type GlobalOptions, type OptionSources } from '../context';
import { dlqEntry, formatAge, parseBody, type DlqEntry } from '../format';
import { OperationError, UsageError } from '../io';
import { missingSubcommand, positiveInt, type Runtime } from '../runtime';
import {
  PEEK_VISIBILITY_S,
  isMoveApiUnavailable,
  moveByCopy,
  moveWithTask,
  peek,
  purge,
  queueInfo,
  type MoveProgress,
  type MoveResult,
} from '../sqs';

const PEEK_NOTE =
  'Peeks without consuming: each message is received with a short visibility timeout and made ' +
  'visible again as soon as the listing is complete, so for that instant (at most ' +
  `${PEEK_VISIBILITY_S} s if the CLI is killed) the worker or another reader cannot receive it, ` +
  "and each peek adds one to the message's receive count.";

async function withSqs<T>(rt: Runtime, opts: GlobalOptions, use: (sqs: SQSClient) => Promise<T>): Promise<T> {
  const sqs = sqsClient(opts, rt.io.env);
  try {
    return await use(sqs);
  } finally {
    sqs.destroy();
  }
}

type Globals = { opts: GlobalOptions; sources: OptionSources };

export function registerDlq(program: Command, rt: Runtime): void {
  const dlq = program
    .command('dlq')
    .description('inspect, redrive and purge the dead-letter queue of failed deliveries')
    .addHelpText(
      'after',
      '\nThe DLQ is found from --dlq-url, else from --endpoint-url for the local stack, else from the\n' +
        'CloudFormation stack (--stack, default Hookrelay) output DeadLetterQueueUrl.',
    );
  missingSubcommand(dlq);

  dlq
    .command('list')
    .summary('list the messages in the DLQ (peeks: they stay in the queue)')
    .description(`list the messages in the DLQ (a table, or JSON lines with --json). ${PEEK_NOTE}`)
    .option('--limit <n>', 'show at most this many messages', positiveInt('--limit', 10_000), 50)
    .action(async (o: { limit: number }, cmd: Command) => {
      const g = rt.globals(cmd);
      const { dlq: url } = await resolveQueues(g.opts, g.sources, ['dlq']);
      await withSqs(rt, g.opts, async (sqs) => {
        const info = await queueInfo(sqs, url);
        const entries = (await peek(sqs, url, { limit: o.limit, expected: info.messages }))
          .map((m) => dlqEntry(m))
          .sort(bySentAt);
        if (g.opts.json) {
          for (const e of entries) rt.out.json(e);
          return;
        }
        if (entries.length === 0) {
          rt.out.line(`The DLQ is empty (${url}).`);
          return;
        }
        rt.out.line(dlqTable(entries));
        rt.out.line(`${entries.length} message(s) shown; the DLQ holds about ${info.messages}.`);
      });
    });

  dlq
    .command('show <messageId>')
    .summary('show one DLQ message in full')
    .description(`show one DLQ message in full: its body and attributes. ${PEEK_NOTE}`)
    .action(async (messageId: string, _o: unknown, cmd: Command) => {
      const g = rt.globals(cmd);
      const { dlq: url } = await resolveQueues(g.opts, g.sources, ['dlq']);
      await withSqs(rt, g.opts, async (sqs) => {
        const seen = await peek(sqs, url, { limit: Number.MAX_SAFE_INTEGER, until: (m) => m.MessageId === messageId });
        const m = seen.find((x) => x.MessageId === messageId);
        if (!m)
          throw new OperationError(
            `message ${messageId} is not in the DLQ (or another reader has it in flight right now)`,
          );
        printMessage(rt, g, m);
      });
    });

  dlq
    .command('redrive')
    .summary('move the DLQ messages back to the work queue, so their deliveries start again')
    .description(
      'move the DLQ messages back to the work queue, bodies unchanged, so that each failed delivery ' +
        "starts again with a fresh retry schedule and the same webhook-id. Uses SQS's message move " +
        'task (StartMessageMoveTask) and shows its progress; where that API is missing (some ' +
        'emulators) it receives, sends and deletes instead, and says which ran. Asks first unless ' +
        '--yes or stdin is not a terminal. Ctrl-C stops watching; a move task keeps running.',
    )
    .option(
      '--max-per-second <n>',
      'move at most this many messages a second (1-500; default: as fast as SQS goes)',
      positiveInt('--max-per-second', 500),
    )
    .option('--no-move-task', 'do not use the move task API: receive, send and delete instead')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (o: { maxPerSecond?: number; moveTask: boolean; yes?: boolean }, cmd: Command) => {
      const g = rt.globals(cmd);
      const queues = await resolveQueues(g.opts, g.sources, ['dlq', 'work']);
      await withSqs(rt, g.opts, async (sqs) => {
        const [source, destination] = await Promise.all([queueInfo(sqs, queues.dlq), queueInfo(sqs, queues.work)]);
        if (source.messages === 0) {
          if (g.opts.json) rt.out.json({ path: null, status: 'EMPTY', moved: 0, total: 0 });
          else rt.out.line('The DLQ is empty: nothing to redrive.');
          return;
        }
        const go = await rt.confirm(
          `Move about ${source.messages} message(s) from ${queues.dlq} back to ${queues.work}?`,
          o.yes,
        );
        if (!go) throw new OperationError('aborted: nothing was moved');

        const progress = progressReporter(rt, g.opts.json === true);
        let result: MoveResult | undefined;
        try {
          if (o.moveTask) {
            try {
              result = await moveWithTask(sqs, {
                sourceArn: source.arn,
                destinationArn: destination.arn,
                maxPerSecond: o.maxPerSecond,
                onProgress: progress.update,
              });
            } catch (err) {
              if (!isMoveApiUnavailable(err)) throw withContext(err, 'StartMessageMoveTask');
              rt.err.line(
                `The SQS message move task API is not available here (${(err as Error).message}); moving by receive, send and delete.`,
              );
            }
          }
          result ??= await moveByCopy(sqs, {
            sourceUrl: queues.dlq,
            destinationUrl: queues.work,
            total: source.messages,
            maxPerSecond: o.maxPerSecond,
            onProgress: progress.update,
          });
        } finally {
          progress.stop();
        }
        reportMove(rt, g.opts.json === true, result);
      });
    });

  dlq
    .command('purge')
    .summary('delete every message in the DLQ')
    .description(
      'delete every message in the DLQ (PurgeQueue). SQS finishes a purge within 60 s, and allows ' +
        'one purge per queue every 60 s. Asks first; without a terminal, --yes is required.',
    )
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (o: { yes?: boolean }, cmd: Command) => {
      const g = rt.globals(cmd);
      if (!o.yes && !rt.io.interactive)
        throw new UsageError('purge deletes messages for good: add --yes when not at a terminal');
      const { dlq: url } = await resolveQueues(g.opts, g.sources, ['dlq']);
      await withSqs(rt, g.opts, async (sqs) => {
        const info = await queueInfo(sqs, url);
        if (
          !(await rt.confirm(`Delete all (about ${info.messages}) messages in ${url}? This cannot be undone.`, o.yes))
        ) {
          throw new OperationError('aborted: nothing was purged');
        }
        await purge(sqs, url);
        if (g.opts.json) rt.out.json({ purged: true, queueUrl: url, approximateMessages: info.messages });
        else
          rt.out.line(
            `Purge of ${url} started (about ${info.messages} message(s)); SQS may take up to 60 s to finish it.`,
          );
      });
    });
}

const bySentAt = (a: DlqEntry, b: DlqEntry) => (a.sentAt ?? '').localeCompare(b.sentAt ?? '');

const BORDERS = [
  'top',
  'top-mid',
  'top-left',
  'top-right',
  'bottom',
  'bottom-mid',
  'bottom-left',
  'bottom-right',
  'left',
  'left-mid',
  'mid',
  'mid-mid',
  'right',
  'right-mid',
  'middle',
] as const;

function dlqTable(entries: DlqEntry[]): string {
  const table = new Table({
    head: ['message id', 'app', 'event', 'endpoint', 'attempt', 'reason', 'age', 'receives'],
    // Borderless, like kubectl: the ids are long, and a terminal is rarely wider than 160.
    chars: Object.fromEntries(BORDERS.map((c) => [c, ''])),
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2 },
    colWidths: [null, null, null, null, null, 44, null, null],
    wordWrap: true,
  });
  for (const e of entries) {
    table.push([
      e.messageId,
      e.appId ?? '-',
      e.eventId ?? '-',
      e.endpointId ?? '-',
      e.attempt ?? '-',
      e.reason,
      formatAge(e.ageSeconds),
      e.receiveCount ?? '-',
    ]);
  }
  return table
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

function printMessage(rt: Runtime, g: Globals, m: Message): void {
  const entry = dlqEntry(m);
  const { json } = parseBody(m.Body);
  if (g.opts.json) {
    rt.out.json({
      ...entry,
      body: json === undefined ? (m.Body ?? null) : json,
      attributes: m.Attributes ?? {},
      messageAttributes: m.MessageAttributes ?? {},
    });
    return;
  }
  const rows: [string, string][] = [
    ['message id', entry.messageId],
    ['kind', entry.kind],
    ['app', entry.appId ?? '-'],
    ['event', entry.eventId ?? '-'],
    ['endpoint', entry.endpointId ?? '-'],
    ['attempt', String(entry.attempt ?? '-')],
    ['reason', entry.reason],
    ['sent', entry.sentAt ? `${entry.sentAt} (${formatAge(entry.ageSeconds)} ago)` : '-'],
    ['receives', String(entry.receiveCount ?? '-')],
  ];
  for (const [k, v] of rows) rt.out.line(`${k.padEnd(11)} ${v}`);
  rt.out.line('\nbody');
  rt.out.line(json === undefined ? (m.Body ?? '') : JSON.stringify(json, null, 2));
  rt.out.line('\nattributes');
  for (const [k, v] of Object.entries(m.Attributes ?? {}).sort()) rt.out.line(`  ${k.padEnd(36)} ${v}`);
  const custom = Object.entries(m.MessageAttributes ?? {});
  if (custom.length > 0) {
    rt.out.line('\nmessage attributes');
    for (const [k, v] of custom) rt.out.line(`  ${k.padEnd(36)} ${v.StringValue ?? `(${v.DataType})`}`);
  }
}

/** A cli-progress bar on a terminal; elsewhere a line on stderr each time the count moves. */
function progressReporter(rt: Runtime, json: boolean) {
  const stream = rt.io.progressStream;
  if (stream?.isTTY && !json) {
    const bar = new SingleBar({
      stream,
      format: 'redrive [{bar}] {value}/{total} messages | {duration_formatted}',
      hideCursor: true,
      clearOnComplete: false,
    });
    let started = false;
    return {
      update(p: MoveProgress) {
        if (!started) {
          bar.start(Math.max(p.total, p.moved), p.moved);
          started = true;
        } else {
          bar.setTotal(Math.max(p.total, p.moved));
          bar.update(p.moved);
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = '';
  return {
    update(p: MoveProgress) {
      const line = `moved ${p.moved}/${p.total}`;
      if (line !== last) rt.err.line(line);
      last = line;
    },
    stop() {},
  };
}

function reportMove(rt: Runtime, json: boolean, r: MoveResult): void {
  const seconds = r.durationMs / 1000;
  const rate = seconds > 0 ? r.moved / seconds : 0;
  const how = r.path === 'move-task' ? "SQS's message move task" : 'receive, send and delete';
  if (json) {
    rt.out.json({
      path: r.path,
      status: r.status,
      moved: r.moved,
      total: r.total,
      durationMs: r.durationMs,
      messagesPerSecond: Math.round(rate * 100) / 100,
      ...(r.failureReason ? { failureReason: r.failureReason } : {}),
    });
  } else {
    rt.out.line(
      `Moved ${r.moved} of ${r.total} message(s) back to the work queue with ${how} in ${seconds.toFixed(1)} s (${rate.toFixed(1)} messages/s).`,
    );
  }
  if (r.status !== 'COMPLETED')
    throw new OperationError(`the redrive ended ${r.status}${r.failureReason ? `: ${r.failureReason}` : ''}`);
}
