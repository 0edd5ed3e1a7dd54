/**
 * `npm start`: runs hookrelay on this machine (see stack.ts) until Ctrl-C: the synthesized cloud
 * assembly's bundles by default, the TypeScript sources with HOOKRELAY_LOCAL_CODE=src.
 * Configuration is the contract's environment variables (PORT, HOOKRELAY_*).
 */
import { ConfigError, LocalStackError, startLocalStack, type LocalStack } from './stack';

async function main(): Promise<void> {
  const started = Date.now();
  let stack: LocalStack;
  try {
    const code = process.env.HOOKRELAY_LOCAL_CODE === 'src' ? 'src' : 'assembly';
    if (!process.env.HOOKRELAY_LOCAL_CODE || ['src', 'assembly'].includes(process.env.HOOKRELAY_LOCAL_CODE)) {
      stack = await startLocalStack({ code });
    } else {
      stack = await startLocalStack();
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error('hookrelay: invalid configuration');
      for (const problem of err.problems) console.error(`  - ${problem}`);
    } else if (err instanceof LocalStackError) {
      console.error(`hookrelay: could not start: ${err.message}`);
    } else {
      // Unexpected: the whole trace, for a bug report.
      console.error('hookrelay: could not start:', err);
    }
    process.exit(1);
  }

  console.log(banner(stack, Date.now() - started));

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    // A second Ctrl-C while stopping means "now": skip the clean stop.
    if (stopping) process.exit(130);
    stopping = true;
    console.log(`\n${signal}: stopping (Ctrl-C again to force)...`);
    stack.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('hookrelay: stop failed', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

function banner(stack: LocalStack, ms: number): string {
  const curl =
    `curl -s -X POST ${stack.apiUrl}/v1/apps -H 'authorization: Bearer ${stack.apiKey}' ` +
    `-H 'content-type: application/json' -d '{"name":"demo"}'`;
  return [
    `hookrelay local stack ready in ${ms} ms`,
    `  Code       ${stack.code === 'assembly' ? 'the cloud assembly' : 'the TypeScript sources'}, wired by ${stack.assembly.dir}` +
      (stack.assembly.synthesized ? ` (synthesized in ${stack.assembly.synthMs} ms)` : ' (cached)'),
    `  API        ${stack.apiUrl}`,
    `  Admin key  ${stack.apiKey}`,
    `  PutEvents  ${stack.eventsUrl}  (point an SDK at it: AWS_ENDPOINT_URL_EVENTBRIDGE=${stack.eventsUrl})`,
    `  Data       ${stack.dataDir ?? 'in memory (set HOOKRELAY_DATA_DIR to keep it across restarts)'}`,
    `  SQS        ${stack.endpoints.sqs}  (the DLQ: npx hookrelay dlq list --endpoint-url ${stack.endpoints.sqs})`,
    `  Try        ${curl}`,
    'Ctrl-C stops.',
  ].join('\n');
}

void main();
