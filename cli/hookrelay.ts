/**
 * `hookrelay`: the operator CLI. Apps, endpoints, keys, portal links and events through the API;
 * the dead-letter queues through SQS; against the local stack (`npm start`, found by itself from
 * the `.hookrelay/local.json` it writes) or a deployed stack on AWS.
 *
 * Exit codes: 0 ok, 1 the operation failed, 2 usage error. Errors are one line on stderr; the
 * stack trace only with --debug.
 *
 * @example
 * // In-process, as the tests do:
 * const out: string[] = [];
 * const code = await run(['dlq', 'list', '--json', '--endpoint-url', sqsEndpoint], {
 *   stdout: { write: (s: string) => out.push(s) },
 *   stderr: { write: () => {} },
 * });
 */
import { Command, CommanderError, Option } from 'commander';
import { registerApps } from './commands/apps';
import { registerDlq } from './commands/dlq';
import { registerEndpoints } from './commands/endpoints';
import { registerEvents } from './commands/events';
import { DEFAULT_STACK, describeAwsError, StepError } from './context';
import { EXIT, OperationError, UsageError, printer, processIO, type CliIO } from './io';
import { createRuntime } from './runtime';

const VERSION = '0.1.0';

export function buildProgram(io: CliIO): Command {
  const rt = createRuntime(io);
  const program = new Command('hookrelay')
    .description(
      'Operate hookrelay: apps, endpoints, keys, portal links, events and the dead-letter queues, locally or on AWS.',
    )
    .version(VERSION, '-V, --version')
    .option('--region <region>', "AWS region (default: AWS_REGION or your profile's)")
    .option('--profile <name>', 'AWS shared-config profile')
    .option('--endpoint-url <url>', "SQS endpoint override; alone it also implies the local stack's queue URLs")
    .addOption(
      new Option('--stack <name>', 'CloudFormation stack whose outputs name the queues').default(DEFAULT_STACK),
    )
    .option('--dlq-url <url>', 'dead-letter queue URL (instead of the stack output DeadLetterQueueUrl)')
    .option('--work-queue-url <url>', 'work queue URL, the redrive target (instead of the stack output WorkQueueUrl)')
    .option(
      '--ingest-dlq-url <url>',
      'ingest DLQ URL: failed ingests from EventBridge (instead of the stack output IngestDeadLetterQueueUrl)',
    )
    .option(
      '--ingest-queue-url <url>',
      'ingest queue URL, their redrive target (instead of the stack output IngestQueueUrl)',
    )
    .option('--api-url <url>', 'API base URL (default: HOOKRELAY_API_URL)')
    .option('--api-key <key>', 'API key (default: HOOKRELAY_API_KEY)')
    .option('--json', 'machine-readable output: JSON (one document per line)')
    .option('--debug', 'print stack traces of errors')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Local stack (npm start): found by itself, from the .hookrelay/local.json it writes in the folder
it runs in (its API URL, the file with its key, its SQS endpoint), from there or any subfolder.
AWS: the queues come from the outputs of the stack (--stack, default ${DEFAULT_STACK}), the API from
HOOKRELAY_API_URL and HOOKRELAY_API_KEY. LocalStack: set AWS_ENDPOINT_URL=http://localhost:4566
(never --endpoint-url alone: that implies the embedded stack's queue URLs).

Examples:
  hookrelay apps create --name demo
  hookrelay endpoints create --app app_123 --url https://ci.example.com/hooks/deploy \\
    --signature hmac-sha256 --secret @hook-secret.txt --auth @auth.json
  hookrelay events send --app app_123 --type invoice.paid --data '{"amount":42}'
  hookrelay deliveries tail --app app_123 --event inv_1001
  hookrelay dlq list
  hookrelay --region eu-west-1 dlq redrive --yes
  AWS_ENDPOINT_URL=http://localhost:4566 hookrelay dlq list

Exit codes: 0 ok, 1 the operation failed, 2 usage error.`,
    );
  // Subcommands made by .command() inherit exitOverride and configureOutput from here.
  registerApps(program, rt);
  registerEndpoints(program, rt);
  registerEvents(program, rt);
  registerDlq(program, rt);
  return program;
}

/** Runs one command line (without the node and script arguments) and resolves to its exit code. */
export async function run(argv: readonly string[], io: CliIO = processIO()): Promise<number> {
  const program = buildProgram(io);
  const err = printer(io.stderr);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has printed its message (or the help) already.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    err.line(`error: ${messageOf(e)}`);
    if (argv.includes('--debug') && e instanceof Error) {
      for (let cur: unknown = e; cur instanceof Error; cur = cur.cause) err.line(cur.stack ?? String(cur));
    }
    return e instanceof UsageError ? EXIT.usage : EXIT.failed;
  }
}

function messageOf(e: unknown): string {
  if (e instanceof UsageError || e instanceof OperationError || e instanceof StepError) return e.message;
  return describeAwsError(e);
}

/** The executable's entry (bin/hookrelay.mjs). */
export async function main(argv = process.argv.slice(2)): Promise<number> {
  // `hookrelay dlq list | head`: a reader that stops early is not an error.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw err;
    });
  }
  return run(argv, processIO());
}
