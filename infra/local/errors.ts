/**
 * A reason the local stack cannot start that the operator can fix (a port or data dir in use, a
 * data dir from an older layout). main.ts prints its message alone, without a stack trace.
 */
export class LocalStackError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LocalStackError';
  }
}
