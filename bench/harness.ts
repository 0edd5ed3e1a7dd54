/**
 * The system under measurement: the embedded local stack in this process, its four real handlers
 * wrapped by the meter, the handlers' SDK clients instrumented, and a recording receiver on
 * 127.0.0.1. Every benchmark drives it through the public API (or PutEvents) only.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { lazyContainer } from '../functions/container';
import { entrySize } from '../infra/local/eventbridge';
import { LOCAL_CREDENTIALS } from '../infra/local/provision';
import { startLocalStack, type LocalStack } from '../infra/local/stack';
import { RecordingReceiver } from '../scripts/recording-receiver';
import { apiClient } from './api-client';
import { captureFunctionLogs, instrumentDynamo, instrumentSqs, instrumentedHandlers, Meter } from './instrument';
import { BILLING_CHUNKS } from './prices';

export interface HarnessOptions {
  /** Variables for the handlers (e.g. HOOKRELAY_RETRY_SCHEDULE). */
  env?: Record<string, string>;
  /** Pollers per queue: the local stand-in for the event source's concurrency. */
  pollerConcurrency?: number;
  /** Count the functions' log output instead of printing it (the cost benchmark). */
  captureLogs?: boolean;
  /** Run invocations one at a time, so each duration is its own (the cost benchmark). */
  oneInvocationAtATime?: boolean;
  /**
   * Count every DynamoDB and SQS request (default true). The throughput run turns it off: the
   * meter's middleware (consumed capacity, item images) is the benchmark's work, not hookrelay's,
   * and the baseline has none.
   */
  countRequests?: boolean;
}

export interface PutEventsCounts {
  calls: number;
  entries: number;
  /** Billed events: each started 64 KB of an entry is one. */
  billedEvents: number;
}

export interface Harness {
  stack: LocalStack;
  meter: Meter;
  receiver: RecordingReceiver;
  api: ReturnType<typeof apiClient>;
  putEvents: PutEventsCounts;
  /** PutEvents on the stack's bus, counted; rejects if any entry failed. */
  sendPutEvents(entries: PutEventsRequestEntry[]): Promise<void>;
  /** Waits until `count` requests reached the receiver and no invocation is running any more. */
  settle(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const meter = new Meter();
  // The handlers' container, this harness's own: built on the first invocation from the
  // environment the stack has set by then, its SDK clients instrumented before any call.
  const container = lazyContainer(() => process.env);
  const instrumented = new WeakSet<object>();
  const handlerContainer = () => {
    const c = container.get();
    if (opts.countRequests !== false && !instrumented.has(c)) {
      instrumented.add(c);
      instrumentDynamo(meter, c.aws.dynamo);
      instrumentSqs(meter, c.aws.sqs);
    }
    return c;
  };
  const stack = await startLocalStack({
    port: 0,
    quiet: true,
    housekeeping: false,
    pollerConcurrency: opts.pollerConcurrency,
    handlers: instrumentedHandlers(meter, handlerContainer, { oneAtATime: opts.oneInvocationAtATime }),
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...opts.env,
    },
  });
  const restoreLogs = opts.captureLogs ? captureFunctionLogs(meter) : () => {};

  const receiver = await new RecordingReceiver().start();
  const api = apiClient(stack);
  const events = new EventBridgeClient({
    region: 'us-east-1',
    endpoint: stack.eventsUrl,
    credentials: LOCAL_CREDENTIALS,
  });
  const putEvents: PutEventsCounts = { calls: 0, entries: 0, billedEvents: 0 };

  return {
    stack,
    meter,
    receiver,
    api,
    putEvents,
    async sendPutEvents(entries) {
      const out = await events.send(new PutEventsCommand({ Entries: entries }));
      putEvents.calls++;
      putEvents.entries += entries.length;
      for (const e of entries) {
        putEvents.billedEvents += Math.max(
          1,
          Math.ceil(entrySize(e as Record<string, unknown>) / BILLING_CHUNKS.eventBridgeBytes),
        );
      }
      // The rule puts each event on the ingest queue: one SendMessage each, billed by SQS (the
      // EventBridge event is the entry plus ~300 bytes of envelope).
      for (const e of entries) {
        meter.sqsCall('rule target', 'SendMessage', 1, entrySize(e as Record<string, unknown>) + 300);
      }
      if (out.FailedEntryCount)
        throw new Error(`PutEvents: ${out.FailedEntryCount} entries failed: ${JSON.stringify(out.Entries)}`);
    },
    async settle(count, timeoutMs = 120_000) {
      await receiver.waitFor((r) => r.length >= count, timeoutMs, `${count} webhooks`);
      // The attempt is recorded after the receiver answered; wait until nothing runs for a while.
      for (let quiet = 0; quiet < 3;) {
        await meter.idle();
        await new Promise((r) => setTimeout(r, 50));
        quiet = meter.running === 0 ? quiet + 1 : 0;
      }
    },
    async stop() {
      restoreLogs();
      events.destroy();
      await stack.stop();
      // The stack closes only the container of handlers it loaded itself; these are ours.
      await container.close();
      await receiver.stop();
    },
  };
}
