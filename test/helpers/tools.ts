/**
 * Tools a fresh machine may lack (cfn-lint, Java): a test that needs one looks it up here. Where
 * it is missing the test says so in its output and checks nothing else; under `.ci/run`
 * (HOOKRELAY_REQUIRE_TOOLS=1) a missing tool is a failure, so CI never passes without it.
 */
import { execFileSync } from 'node:child_process';

/** The tool's path if `name --version`-style probing works, else undefined. */
export function findTool(name: string, probeArgs: string[] = ['--version']): string | undefined {
  try {
    execFileSync(name, probeArgs, { stdio: 'ignore', timeout: 20_000 });
    return name;
  } catch {
    return undefined;
  }
}

/**
 * Whether the tool is there; when it is not, prints why the tests that need it did not run (or
 * throws under HOOKRELAY_REQUIRE_TOOLS=1).
 */
export function toolOrNotice(name: string, what: string, probeArgs?: string[]): string | undefined {
  const found = findTool(name, probeArgs);
  if (found) return found;
  const message = `${name} not found: ${what} did not run (install it to run them)`;
  if (process.env.HOOKRELAY_REQUIRE_TOOLS === '1') throw new Error(`${message}; HOOKRELAY_REQUIRE_TOOLS=1 requires it`);
  console.warn(`NOTICE: ${message}`);
  return undefined;
}
