// One Lambda function of the cloud assembly, in a worker thread of its own: its bundled module
// loaded with its own environment (the worker's process.env, set by lambda-runtime.ts), invoked
// once per message with a Context like the Node.js runtime's. Plain JavaScript: a worker runs
// outside any TypeScript loader.
import { randomBytes, randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import process from 'node:process';
import { parentPort, workerData } from 'node:worker_threads';

const { file, exportName, fn } = workerData;
if ((process.env.NODE_OPTIONS ?? '').includes('--enable-source-maps')) process.setSourceMapsEnabled?.(true);

const mod = await import(pathToFileURL(file).href);
const handler = mod[exportName];
if (typeof handler !== 'function') throw new Error(`${file} exports no function ${exportName}`);

function context(deadline) {
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  const noop = () => {};
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: String(fn.memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: noop,
    fail: noop,
    succeed: noop,
  };
}

parentPort.on('message', async ({ id, event, deadline }) => {
  try {
    const result = await handler(event, context(deadline));
    parentPort.postMessage({ id, ok: true, result });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    parentPort.postMessage({ id, ok: false, error: { name: e.name, message: e.message, stack: e.stack } });
  }
});
parentPort.postMessage({ ready: true });
