/**
 * `npm start`: runs hookrelay on this machine (see stack.ts) until Ctrl-C: the synthesized cloud
 * assembly's bundles by default, the TypeScript sources with HOOKRELAY_LOCAL_CODE=src.
 * Configuration is the contract's environment variables (PORT, HOOKRELAY_*).
 */
import './quiet-sdk';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LOCAL_STACK_FILE, writeLocalStackFile } from '../local-stack-file';
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

  const forgetEndpoints = announce(stack);
  console.log(banner(stack, Date.now() - started));

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    // A second Ctrl-C while stopping means "now": skip the clean stop.
    if (stopping) process.exit(130);
    stopping = true;
    console.log(`\n${signal}: stopping (Ctrl-C again to force)...`);
    stack.stop().then(
      () => {
        forgetEndpoints();
        process.exit(0);
      },
      (err: unknown) => {
        console.error('hookrelay: stop failed', err);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

/**
 * Writes the endpoints where `npx hookrelay` looks for them (.hookrelay/local.json), with the
 * admin key in a file of its own, readable by its owner only: the data dir's `admin-key`, or
 * `.hookrelay/admin-key` for a key made for this run. A key given in HOOKRELAY_API_KEY is the
 * user's own and is written nowhere. Returns what removes them again.
 */
function announce(stack: LocalStack): () => void {
  let apiKeyFile: string | undefined;
  let removeKey = () => {};
  if (!process.env.HOOKRELAY_API_KEY) {
    if (stack.dataDir) apiKeyFile = join(stack.dataDir, 'admin-key');
    else {
      const file = join(process.cwd(), '.hookrelay', 'admin-key');
      mkdirSync(dirname(file), { recursive: true });
      rmSync(file, { force: true });
      writeFileSync(file, `${stack.apiKey}\n`, { mode: 0o600 });
      apiKeyFile = file;
      removeKey = () => rmSync(file, { force: true });
    }
  }
  const remove = writeLocalStackFile(process.cwd(), {
    pid: process.pid,
    apiUrl: stack.apiUrl,
    sqsEndpoint: stack.endpoints.sqs,
    eventsUrl: stack.eventsUrl,
    ...(apiKeyFile ? { apiKeyFile } : {}),
    ...(stack.dataDir ? { dataDir: stack.dataDir } : {}),
  });
  return () => {
    remove();
    removeKey();
  };
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
    `  SQS        ${stack.endpoints.sqs}  (pin it with HOOKRELAY_SQS_PORT)`,
    `  CLI        npx hookrelay dlq list  (finds this stack from ${LOCAL_STACK_FILE})`,
    `  Try        ${curl}`,
    'Ctrl-C stops.',
  ].join('\n');
}

void main();
