/**
 * `npm run deploy:localstack` runs this first: is LocalStack answering on localhost:4566? Without
 * it, cdklocal says only "Unable to resolve AWS account to use", which names neither LocalStack,
 * nor Docker, nor the token its free image needs. Exits 0 when it answers, else 1 with what to start.
 *
 * @example
 * npx tsx scripts/check-localstack.ts            # http://localhost:4566
 * npx tsx scripts/check-localstack.ts http://127.0.0.1:4510
 */
import process from 'node:process';

export const DEFAULT_LOCALSTACK = 'http://localhost:4566';

/** Undefined when LocalStack answers at `endpoint`, else the message to print. */
export async function localstackProblem(endpoint: string, timeoutMs = 3000): Promise<string | undefined> {
  const health = `${endpoint.replace(/\/+$/, '')}/_localstack/health`;
  try {
    const res = await fetch(health, { signal: AbortSignal.timeout(timeoutMs) });
    if (res.ok) return undefined;
    return `LocalStack at ${endpoint} answered ${res.status} to ${health}: is it LocalStack, and is it ready?`;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return [
      `LocalStack does not answer on ${endpoint} (${cause}). Start it first, then run npm run deploy:localstack again:`,
      '  - it needs Docker (a running engine) and the LocalStack CLI (pip install localstack, or brew install localstack/tap/localstack-cli);',
      '  - and a LOCALSTACK_AUTH_TOKEN from your account at https://app.localstack.cloud (the free Hobby plan is enough):',
      '',
      '    LOCALSTACK_AUTH_TOKEN=<your token> LAMBDA_IGNORE_ARCHITECTURE=1 localstack start -d',
      '',
      'See docs/deploy.md ("LocalStack").',
    ].join('\n');
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problem = await localstackProblem(process.argv[2] ?? DEFAULT_LOCALSTACK);
  if (problem) {
    console.error(problem);
    process.exitCode = 1;
  }
}
