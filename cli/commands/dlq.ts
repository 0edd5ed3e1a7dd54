/**
 * `hookrelay dlq list | show | redrive | purge`: the dead-letter queues. The delivery DLQ holds
 * deliveries the worker gave up on (their body carries `reason`) and messages the worker could
 * not handle at all (poison messages); the ingest DLQ holds events put on the bus that could not
 * be ingested (their reason in message attributes). Both are listed together and redriven each
 * to its own queue: failed deliveries to the work queue, failed ingests to the ingest queue.
 */
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { SingleBar } from 'cli-progress';
import Table from 'cli-table3';
import type { Command } from 'commander';
import {
  resolveQueues,
  sqsClient,
  withContext,
  type GlobalOptions,
  type OptionSources,
  type QueueTargets,
} from '../context';
import { dlqEntry, formatAge, ingestDlqEntry, parseBody, type DlqEntry, type IngestDlqEntry } from '../format';

const isIngestEntry = (e: DlqEntry): e is IngestDlqEntry => e.kind === 'ingest';
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
    .description('inspect, redrive and purge the dead-letter queues: failed deliveries and failed ingests')
    .addHelpText(
      'after',
      '\nThe DLQs are found from --dlq-url (and --ingest-dlq-url), else from --endpoint-url for the\n' +
        'local stack, else from the CloudFormation stack (--stack, default Hookrelay) outputs\n' +
        'DeadLetterQueueUrl and IngestDeadLetterQueueUrl.',
    );
  missingSubcommand(dlq);

  dlq
    .command('list')
    .summary('list the messages in the DLQ (peeks: they stay in the queue)')
    .description(`list the messages in the DLQ (a table, or JSON lines with --json). ${PEEK_NOTE}`)
    .option('--limit <n>', 'show at most this many messages', positiveInt('--limit', 10_000), 50)
    .action(async (o: { limit: number }, cmd: Command) => {
      const g = rt.globals(cmd);
      const queues = await resolveQueues(g.opts, g.sources, ['dlq']);
      await withSqs(rt, g.opts, async (sqs) => {
        // One queue after the other: the delivery DLQ first, so a failure always names the same one.
        const listed = [];
        for (const q of sources(queues)) {
          const info = await queueInfo(sqs, q.dlq);
          const messages = await peek(sqs, q.dlq, { limit: o.limit, expected: info.messages });
          listed.push({ info, entries: messages.map((m) => q.entry(m)) });
        }
        const entries = listed
          .flatMap((l) => l.entries)
          .sort(bySentAt)
          .slice(0, o.limit);
        const held = listed.reduce((n, l) => n + l.info.messages, 0);
        if (g.opts.json) {
          for (const e of entries) rt.out.json(e);
          return;
        }
        if (entries.length === 0) {
          rt.out.line(
            `The DLQ is empty (${sources(queues)
              .map((q) => q.dlq)
              .join(', ')}).`,
          );
          return;
        }
        rt.out.line(dlqTable(entries));
        rt.out.line(`${entries.length} message(s) shown; the DLQ holds about ${held}.`);
      });
    });

  dlq
    .command('show <messageId>')
    .summary('show one DLQ message in full')
    .description(`show one DLQ message in full: its body and attributes. ${PEEK_NOTE}`)
    .action(async (messageId: string, _o: unknown, cmd: Command) => {
      const g = rt.globals(cmd);
      const queues = await resolveQueues(g.opts, g.sources, ['dlq']);
      await withSqs(rt, g.opts, async (sqs) => {
        for (const q of sources(queues)) {
          const seen = await peek(sqs, q.dlq, {
            limit: Number.MAX_SAFE_INTEGER,
            until: (m) => m.MessageId === messageId,
          });
          const m = seen.find((x) => x.MessageId === messageId);
          if (m) {
            printMessage(rt, g, m, q.entry(m));
            return;
          }
        }
        throw new OperationError(
          `message ${messageId} is not in the DLQ (or another reader has it in flight right now)`,
        );
      });
    });

  dlq
    .command('redrive')
    .summary('move failed deliveries back to the work queue and failed ingests back to the ingest queue')
    .description(
      'move the DLQ messages back where they start again, bodies unchanged: failed deliveries to the ' +
        'work queue, so that each starts again with a fresh retry schedule and the same webhook-id; ' +
        'failed ingests (events from the bus) to the ingest queue, so that each is ingested again, ' +
        "once its cause is fixed. Uses SQS's message move task (StartMessageMoveTask) and shows its " +
        'progress; where that API is missing (some emulators) it receives, sends and deletes instead, ' +
        'and says which ran. Asks first unless --yes or stdin is not a terminal. Ctrl-C stops ' +
        'watching; a move task keeps running.',
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
        const moves = [];
        for (const q of sources(queues)) {
          if (!q.destination) continue;
          const [source, destination] = await Promise.all([queueInfo(sqs, q.dlq), queueInfo(sqs, q.destination)]);
          if (source.messages > 0)
            moves.push({ ...q, destination: q.destination, source, destinationInfo: destination });
        }
        if (moves.length === 0) {
          if (g.opts.json) rt.out.json({ path: null, status: 'EMPTY', moved: 0, total: 0 });
          else rt.out.line('The DLQ is empty: nothing to redrive.');
          return;
        }
        const plan = moves.map((m) => `about ${m.source.messages} message(s) from ${m.dlq} back to ${m.destination}`);
        const go = await rt.confirm(`Move ${plan.join(', and ')}?`, o.yes);
        if (!go) throw new OperationError('aborted: nothing was moved');

        const results: Array<{ label: string; queue: string; result: MoveResult }> = [];
        for (const m of moves) {
          const progress = progressReporter(rt, g.opts.json === true);
          let result: MoveResult | undefined;
          try {
            if (o.moveTask) {
              try {
                result = await moveWithTask(sqs, {
                  sourceArn: m.source.arn,
                  destinationArn: m.destinationInfo.arn,
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
              sourceUrl: m.dlq,
              destinationUrl: m.destination,
              total: m.source.messages,
              maxPerSecond: o.maxPerSecond,
              onProgress: progress.update,
            });
          } finally {
            progress.stop();
          }
          results.push({ label: m.destinationLabel, queue: m.name, result });
        }
        for (const r of results) reportMove(rt, g.opts.json === true, r.result, r.label, r.queue);
        const failed = results.find((r) => r.result.status !== 'COMPLETED')?.result;
        if (failed)
          throw new OperationError(
            `the redrive ended ${failed.status}${failed.failureReason ? `: ${failed.failureReason}` : ''}`,
          );
      });
    });

  dlq
    .command('purge')
    .summary('delete every message in the DLQ')
    .description(
      'delete every message in the DLQ of failed deliveries, or with --ingest in the DLQ of failed ' +
        'ingests (PurgeQueue). SQS finishes a purge within 60 s, and allows one purge per queue every ' +
        '60 s. Asks first; without a terminal, --yes is required.',
    )
    .option('--ingest', 'purge the ingest DLQ (failed ingests) instead of the delivery DLQ')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (o: { yes?: boolean; ingest?: boolean }, cmd: Command) => {
      const g = rt.globals(cmd);
      if (!o.yes && !rt.io.interactive)
        throw new UsageError('purge deletes messages for good: add --yes when not at a terminal');
      const queues = await resolveQueues(g.opts, g.sources, ['dlq']);
      if (o.ingest && !queues.ingest)
        throw new UsageError('no ingest DLQ found: give --ingest-dlq-url (or use the stack outputs)');
      const url = o.ingest && queues.ingest ? queues.ingest.dlq : queues.dlq;
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

/** Each DLQ, how to read its messages, and where its redrive sends them. */
function sources(queues: QueueTargets) {
  const out: Array<{
    name: 'deliveries' | 'ingest';
    dlq: string;
    destination: string | undefined;
    destinationLabel: string;
    entry: (m: Message) => DlqEntry;
  }> = [
    {
      name: 'deliveries',
      dlq: queues.dlq,
      destination: queues.work || undefined,
      destinationLabel: 'the work queue',
      entry: (m) => dlqEntry(m),
    },
  ];
  if (queues.ingest) {
    out.push({
      name: 'ingest',
      dlq: queues.ingest.dlq,
      destination: queues.ingest.queue,
      destinationLabel: 'the ingest queue',
      entry: (m) => ingestDlqEntry(m),
    });
  }
  return out;
}

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
    head: ['kind', 'message id', 'app', 'event', 'endpoint', 'attempt', 'reason', 'age', 'receives'],
    // Borderless, like kubectl: the ids are long, and a terminal is rarely wider than 160.
    chars: Object.fromEntries(BORDERS.map((c) => [c, ''])),
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2 },
    colWidths: [null, null, null, null, null, null, 44, null, null],
    wordWrap: true,
  });
  for (const e of entries) {
    table.push([
      e.kind,
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

function printMessage(rt: Runtime, g: Globals, m: Message, entry: DlqEntry): void {
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
    ...(isIngestEntry(entry)
      ? ([
          ['EventBridge', entry.eventBridgeEventId ?? '-'],
          ['source', entry.source ?? '-'],
          ['detail type', entry.detailType ?? '-'],
          ['code', entry.code],
        ] as [string, string][])
      : []),
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

function reportMove(rt: Runtime, json: boolean, r: MoveResult, label: string, queue: string): void {
  const seconds = r.durationMs / 1000;
  const rate = seconds > 0 ? r.moved / seconds : 0;
  const how = r.path === 'move-task' ? "SQS's message move task" : 'receive, send and delete';
  if (json) {
    rt.out.json({
      queue,
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
      `Moved ${r.moved} of ${r.total} message(s) back to ${label} with ${how} in ${seconds.toFixed(1)} s (${rate.toFixed(1)} messages/s).`,
    );
  }
}
