/**
 * The local stack's console output. Quiet mode (tests) silences it entirely, so a test run only
 * shows what the test itself prints; errors stay visible otherwise, with the component that saw them.
 */
export interface Log {
  info(message: string): void;
  warn(message: string, err?: unknown): void;
  error(message: string, err?: unknown): void;
}

export function createLog(quiet = false): Log {
  if (quiet) return { info() {}, warn() {}, error() {} };
  return {
    info: (message) => console.log(message),
    warn: (message, err) => console.warn(`warn: ${message}${err === undefined ? '' : `: ${describe(err)}`}`),
    error: (message, err) => console.error(`error: ${message}${err === undefined ? '' : `: ${describe(err)}`}`),
  };
}

/** The stack trace when there is one: a local runtime is where a developer needs it. */
function describe(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  return String(err);
}
