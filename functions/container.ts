/**
 * The composition root's base: one container per Lambda execution environment (or per local
 * stack), built from an environment. It parses the configuration once, builds the SDK clients,
 * the stores over the table, the scheduler and the lifecycle, and closes them all at the end.
 * Each handler builds the services it needs over it (functions/wiring.ts), so a bundle carries
 * only its own function's code; handlers take the container as an argument, so the local runtime
 * and the bench build one per stack, and nothing is reset between stacks.
 *
 * @example
 * const container = createContainer(process.env);
 * const handler = createDeliveryHandler(() => container);
 * // ... at stop:
 * await container.close();
 */
import { parseConfig, type Config } from './config';
import { lifecycle, type Lifecycle } from './delivery/lifecycle';
import { SqsScheduler } from './delivery/sqs-queues';
import { dynamoStores, type DynamoStores } from './dynamo-stores';
import { createAwsClients, type AwsClients } from './shared/aws-clients';

/** How long a delivery worker reuses an endpoint it read (see DynamoAppStore.endpointForDelivery). */
const ENDPOINT_CACHE_MS = 5000;

export type Environment = Readonly<Record<string, string | undefined>>;

export interface Container {
  readonly cfg: Config;
  readonly aws: AwsClients;
  readonly stores: DynamoStores;
  readonly scheduler: SqsScheduler;
  readonly life: Lifecycle;
  /** Something a handler's services opened (the webhook sender's sockets), closed with the container. */
  onClose(close: () => void | Promise<void>): void;
  /** Closes what was opened, then destroys the clients. */
  close(): Promise<void>;
}

/** A container over `env`; throws one ConfigError naming every bad or missing variable. */
export function createContainer(env: Environment): Container {
  const cfg = parseConfig(env);
  const aws = createAwsClients(cfg.region);
  const stores = dynamoStores(
    aws.dynamo,
    { tableName: cfg.tableName, retentionDays: cfg.retentionDays },
    // A worker reuses an endpoint it read for a few seconds (never one older than its message's).
    { endpointCacheMs: ENDPOINT_CACHE_MS },
  );
  const scheduler = new SqsScheduler(aws.sqs, {
    work: cfg.workShardUrls,
    retry: cfg.retryQueueUrl,
    isolated: cfg.isolatedQueueUrl,
    ordered: cfg.orderedQueueUrl,
  });
  const closers: Array<() => void | Promise<void>> = [];
  return {
    cfg,
    aws,
    stores,
    scheduler,
    life: lifecycle({ leaseS: cfg.leaseS }),
    onClose: (close) => void closers.push(close),
    close: async () => {
      await Promise.all(closers.splice(0).map((close) => close()));
      aws.destroy();
    },
  };
}

/** Built on first use (a handler's first invocation), from the environment as it is then. */
export interface LazyContainer {
  get(): Container;
  /** Closes the container if it was built; the next get() builds a new one. */
  close(): Promise<void>;
}

export function lazyContainer(env: () => Environment): LazyContainer {
  let built: Container | undefined;
  return {
    get: () => (built ??= createContainer(env())),
    close: async () => {
      const container = built;
      built = undefined;
      await container?.close();
    },
  };
}

/**
 * The Lambda's container: one per execution environment, from its `process.env`, built on the
 * first invocation and never closed (the process is the container's life). The one lazy module
 * value left: the local runtime and the bench build containers of their own.
 */
export const defaultContainer: () => Container = lazyContainer(() => process.env).get;

/** `build`'s result, built on the first call and kept (a handler's services over its container). */
export function once<T>(build: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: build() }).v;
}
