/**
 * The Lambda side of the local runtime: the four handler signatures, a Context like the one the
 * Node.js runtime passes, and an invoke helper that enforces the function timeout the way Lambda
 * does (the invocation fails; the code that overran is not stopped, just no longer waited for).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyResultV2,
  Context,
  SQSBatchResponse,
  SQSEvent,
  ScheduledEvent,
} from 'aws-lambda';

// The account and region are promised to the CLI too: they live where it can read them.
export { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../local-stack-file';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../local-stack-file';

export interface Handlers {
  api(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyResultV2>;
  // A delivery handler may resolve to nothing, which Lambda reads as "whole batch succeeded".
  delivery(event: SQSEvent, context: Context): Promise<SQSBatchResponse | void>;
  // The ingest queue's consumer: EventBridge events, as the bus rule puts them on SQS.
  ingest(event: SQSEvent, context: Context): Promise<SQSBatchResponse | void>;
  housekeeping(event: ScheduledEvent, context: Context): Promise<unknown>;
}

export type FunctionName = keyof Handlers;

/**
 * Stand-in settings for `invoke`, the helper tests use to call a handler directly. The local
 * runtime itself takes each function's name, timeout and memory from the template
 * (lambda-runtime.ts).
 */
export const FUNCTIONS: Record<FunctionName, { name: string; timeoutMs: number; memoryMb: number }> = {
  api: { name: 'hookrelay-api', timeoutMs: 29_000, memoryMb: 1024 },
  delivery: { name: 'hookrelay-delivery', timeoutMs: 30_000, memoryMb: 1024 },
  ingest: { name: 'hookrelay-ingest', timeoutMs: 30_000, memoryMb: 256 },
  housekeeping: { name: 'hookrelay-housekeeping', timeoutMs: 300_000, memoryMb: 512 },
};

export class InvocationTimeoutError extends Error {
  constructor(functionName: string, timeoutMs: number) {
    super(`${functionName} timed out after ${timeoutMs} ms`);
    this.name = 'InvocationTimeoutError';
  }
}

export function lambdaContext(
  fn: FunctionName | { name: string; arn: string; memoryMb: number },
  deadline: number,
): Context {
  const { name, memoryMb } = typeof fn === 'string' ? FUNCTIONS[fn] : fn;
  const arn = typeof fn === 'string' ? `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}` : fn.arn;
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  const noop = () => {};
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: arn,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: noop,
    fail: noop,
    succeed: noop,
  };
}

/**
 * Calls a handler with a fresh Context; rejects with InvocationTimeoutError when it overruns the
 * function's timeout (`timeoutMs` overrides it, for tests).
 */
export async function invoke<E, R>(
  fn: FunctionName,
  handler: (event: E, context: Context) => Promise<R>,
  event: E,
  timeoutMs = FUNCTIONS[fn].timeoutMs,
): Promise<R> {
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeoutError(FUNCTIONS[fn].name, timeoutMs)), timeoutMs);
  });
  try {
    // Promise.resolve().then: a handler that throws synchronously fails the invocation like a rejection.
    return await Promise.race([Promise.resolve().then(() => handler(event, lambdaContext(fn, deadline))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
