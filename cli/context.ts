/**
 * The global options every command shares, and what they resolve to: AWS client settings, the
 * queue URLs (explicit, the local stack's convention, or the CloudFormation stack's outputs) and
 * the API's URL and key.
 */
import { SQSClient, type SQSClientConfig } from '@aws-sdk/client-sqs';
import { readFileSync } from 'node:fs';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION, LOCAL_STACK_FILE, readLocalStackFile } from '../infra/local-stack-file';
import { topology } from '../infra/topology';
import { OperationError, UsageError, type CliIO } from './io';

export interface GlobalOptions {
  /**
   * The running local stack found from `.hookrelay/local.json` (npm start writes it), when no
   * endpoint, queue URL or stack was given: its endpoints are the defaults.
   */
  localStack?: { file: string; apiUrl: string; sqsEndpoint: string; apiKeyFile?: string };
  region?: string;
  profile?: string;
  endpointUrl?: string;
  stack: string;
  dlqUrl?: string;
  workQueueUrl?: string;
  ingestDlqUrl?: string;
  ingestQueueUrl?: string;
  apiUrl?: string;
  apiKey?: string;
  json?: boolean;
  debug?: boolean;
}

export const DEFAULT_STACK = 'Hookrelay';

/** How the global options were given: whether `--stack` was typed or is the default. */
export interface OptionSources {
  stackExplicit: boolean;
}

export interface QueueTargets {
  dlq: string;
  work: string;
  /**
   * The EventBridge path's queues, when they could be found: the ingest DLQ (failed ingests) and
   * the ingest queue (their redrive target). Absent when only the delivery queues were given.
   */
  ingest?: { dlq: string; queue: string | undefined };
  /** Where the URLs came from, for messages: "--dlq-url", "the local stack convention", "stack Hookrelay". */
  source: string;
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return host === 'localhost' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

function checkUrl(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`${name} must be a URL, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${name} must be an http(s) URL, got "${value}"`);
  return value.replace(/\/+$/, '');
}

/**
 * SDK client settings. Against an emulator on this machine (a loopback `--endpoint-url`) with no
 * credentials configured, fake ones are used: the emulators accept anything, and an operator
 * trying the local stack should not need an AWS account.
 */
export function awsClientConfig(opts: GlobalOptions, env: Record<string, string | undefined> = process.env) {
  const config: SQSClientConfig = {};
  if (opts.profile) config.profile = opts.profile;
  if (opts.region) config.region = opts.region;
  if (opts.endpointUrl) {
    const endpoint = checkUrl('--endpoint-url', opts.endpointUrl);
    config.endpoint = endpoint;
    if (isLoopback(endpoint)) {
      config.region ??= env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? LOCAL_REGION;
      if (!opts.profile && !env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE) {
        config.credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
      }
    }
  }
  return config;
}

export function sqsClient(opts: GlobalOptions, env?: Record<string, string | undefined>): SQSClient {
  return new SQSClient(awsClientConfig(opts, env));
}

/**
 * The embedded local stack (`npm start`) creates its queues under a fixed account with the
 * topology's names, so its queue URLs follow from its SQS endpoint alone:
 * `<endpoint>/123456789012/hookrelay-dlq`.
 */
export function localQueueUrl(endpointUrl: string, key: 'work' | 'dlq' | 'ingest' | 'ingestDlq'): string {
  return `${endpointUrl.replace(/\/+$/, '')}/${LOCAL_ACCOUNT_ID}/${topology.queues[key].name}`;
}

/**
 * Finds the queues a command needs: explicit URLs win; else, with `--endpoint-url` and no explicit
 * `--stack`, the local stack's convention; else the CloudFormation stack's outputs
 * `DeadLetterQueueUrl` and `WorkQueueUrl`, and `IngestDeadLetterQueueUrl` and `IngestQueueUrl`
 * for failed ingests. With the delivery queues given as options and no `--ingest-dlq-url`, the
 * ingest DLQ is left out.
 */
export async function resolveQueues(
  opts: GlobalOptions,
  sources: OptionSources,
  need: readonly ('dlq' | 'work')[] = ['dlq', 'work'],
): Promise<QueueTargets> {
  const explicit = {
    dlq: opts.dlqUrl ? checkUrl('--dlq-url', opts.dlqUrl) : undefined,
    work: opts.workQueueUrl ? checkUrl('--work-queue-url', opts.workQueueUrl) : undefined,
    ingestDlq: opts.ingestDlqUrl ? checkUrl('--ingest-dlq-url', opts.ingestDlqUrl) : undefined,
    ingest: opts.ingestQueueUrl ? checkUrl('--ingest-queue-url', opts.ingestQueueUrl) : undefined,
  };
  const ingestOf = (dlq: string | undefined, queue: string | undefined) => (dlq ? { dlq, queue } : undefined);
  if (need.every((k) => explicit[k])) {
    return {
      dlq: explicit.dlq ?? '',
      work: explicit.work ?? '',
      ingest: ingestOf(explicit.ingestDlq, explicit.ingest),
      source: 'the queue URL options',
    };
  }
  if (opts.endpointUrl && !sources.stackExplicit) {
    const endpoint = checkUrl('--endpoint-url', opts.endpointUrl);
    return {
      dlq: explicit.dlq ?? localQueueUrl(endpoint, 'dlq'),
      work: explicit.work ?? localQueueUrl(endpoint, 'work'),
      ingest: ingestOf(
        explicit.ingestDlq ?? localQueueUrl(endpoint, 'ingestDlq'),
        explicit.ingest ?? localQueueUrl(endpoint, 'ingest'),
      ),
      source: opts.localStack
        ? `the local stack at ${endpoint} (from ${opts.localStack.file})`
        : `the local stack at ${endpoint}`,
    };
  }
  const outputs = await stackOutputs(opts);
  const found = { dlq: explicit.dlq ?? outputs.DeadLetterQueueUrl, work: explicit.work ?? outputs.WorkQueueUrl };
  const keys = { dlq: 'DeadLetterQueueUrl', work: 'WorkQueueUrl' } as const;
  const missing = need.filter((k) => !found[k]).map((k) => keys[k]);
  if (missing.length > 0) {
    throw new OperationError(
      `stack ${opts.stack} has no output ${missing.join(' or ')}; give --dlq-url and --work-queue-url`,
    );
  }
  return {
    dlq: found.dlq ?? '',
    work: found.work ?? '',
    ingest: ingestOf(explicit.ingestDlq ?? outputs.IngestDeadLetterQueueUrl, explicit.ingest ?? outputs.IngestQueueUrl),
    source: `stack ${opts.stack}`,
  };
}

async function stackOutputs(opts: GlobalOptions): Promise<Record<string, string>> {
  // Loaded only here: the local stack and explicit URLs never need CloudFormation.
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  // --endpoint-url is the SQS endpoint; CloudFormation follows AWS_ENDPOINT_URL(_CLOUDFORMATION).
  const { endpoint: _sqsEndpoint, ...config } = awsClientConfig(opts);
  const cfn = new CloudFormationClient(config);
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: opts.stack }));
    const outputs: Record<string, string> = {};
    for (const o of out.Stacks?.[0]?.Outputs ?? [])
      if (o.OutputKey && o.OutputValue) outputs[o.OutputKey] = o.OutputValue;
    return outputs;
  } catch (err) {
    throw withContext(
      err,
      `reading the outputs of stack ${opts.stack} (give --dlq-url and --work-queue-url, or --endpoint-url for the local stack)`,
    );
  } finally {
    cfn.destroy();
  }
}

/**
 * The local stack `npm start` runs in `cwd` or a parent folder, when nothing else was chosen:
 * no --endpoint-url, no queue URL, no --stack, no AWS_ENDPOINT_URL(_SQS). Fills `localStack`, and
 * `endpointUrl` with its SQS endpoint.
 */
export function withLocalStack(
  opts: GlobalOptions,
  sources: OptionSources,
  io: Pick<CliIO, 'env' | 'cwd'>,
): GlobalOptions {
  const env = io.env ?? process.env;
  if (io.cwd === undefined || sources.stackExplicit) return opts;
  const chosen =
    opts.endpointUrl ?? opts.dlqUrl ?? opts.ingestDlqUrl ?? env.AWS_ENDPOINT_URL ?? env.AWS_ENDPOINT_URL_SQS;
  const found = readLocalStackFile(io.cwd);
  if (!found) return opts;
  const localStack = {
    file: found.file,
    apiUrl: found.apiUrl,
    sqsEndpoint: found.sqsEndpoint,
    ...(found.apiKeyFile ? { apiKeyFile: found.apiKeyFile } : {}),
  };
  return chosen === undefined ? { ...opts, endpointUrl: found.sqsEndpoint, localStack } : { ...opts, localStack };
}

/**
 * The API's base URL and key: the options, else HOOKRELAY_API_URL / HOOKRELAY_API_KEY, else the
 * running local stack's (its key read from the file it names).
 */
export function resolveApi(opts: GlobalOptions, io: Pick<CliIO, 'env'>): { url: string; key: string } {
  const env = io.env ?? process.env;
  const local = opts.localStack;
  const url = opts.apiUrl ?? env.HOOKRELAY_API_URL ?? local?.apiUrl;
  let key = opts.apiKey ?? env.HOOKRELAY_API_KEY;
  if (!key && local?.apiKeyFile && url === local.apiUrl) {
    try {
      key = readFileSync(local.apiKeyFile, 'utf8').trim() || undefined;
    } catch {
      key = undefined;
    }
  }
  if (!url)
    throw new UsageError(
      `no API URL: give --api-url or set HOOKRELAY_API_URL (npm start prints it and writes it to ${LOCAL_STACK_FILE}; on AWS it is the stack output ApiUrl)`,
    );
  if (!key) throw new UsageError('no API key: give --api-key or set HOOKRELAY_API_KEY');
  return { url: checkUrl('--api-url', url), key };
}

/** An error from a step, with the step named; the original is kept as the cause (shown with --debug). */
export class StepError extends Error {
  override readonly name = 'StepError';
}

export function withContext(err: unknown, step: string): StepError {
  return new StepError(`${step}: ${describeAwsError(err)}`, { cause: err });
}

/**
 * One line for an AWS SDK error: its code and message, with a hint for the usual set-up mistakes
 * (no credentials, no region, nothing listening at the endpoint, a queue that does not exist).
 */
export function describeAwsError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  if (e.name === 'CredentialsProviderError') {
    return 'no AWS credentials found (use --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID; for the local stack give --endpoint-url)';
  }
  if (/Region is missing/i.test(e.message)) return 'no AWS region (use --region or AWS_REGION)';
  const code = e.code ?? (typeof e.cause === 'object' && e.cause ? (e.cause as { code?: string }).code : undefined);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || code === 'ETIMEDOUT') {
    return `cannot connect (${code}): is the endpoint right and running?`;
  }
  if (e.name === 'QueueDoesNotExist' || e.name === 'AWS.SimpleQueueService.NonExistentQueue') {
    return 'the queue does not exist (check the queue URL, the region, or that the local stack is running)';
  }
  const status = e.$metadata?.httpStatusCode;
  const name = e.name && e.name !== 'Error' ? `${e.name}: ` : '';
  return `${name}${e.message}${status ? ` (HTTP ${status})` : ''}`;
}
