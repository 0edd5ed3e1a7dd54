/**
 * EventBridge rules of the template, run locally: an event put on a bus goes to every target of
 * every rule on that bus whose pattern it matches, as EventBridge delivers it:
 *
 * - a Lambda target is invoked asynchronously: Lambda retries a failed invocation as its
 *   EventInvokeConfig says (default twice), then sends the event to the function's dead-letter
 *   queue, if it has one;
 * - an SQS target receives the event as the message body (or the target's fixed Input).
 *   `publish` resolves once every SQS target has the event (what a PutEvents answer promises:
 *   the event is kept and will reach its targets) and rejects when one could not take it.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { CallRecorder } from './aws-calls';
import type { LocalFunction } from './lambda-runtime';
import type { Log } from './log';
import type { RuleSpec, TargetSpec } from './template';

// ---------------------------------------------------------------------------------------------
// Event patterns (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html)

type Json = unknown;

/** Whether an event matches a pattern: every key of the pattern matches the event's field. */
export function matchesPattern(pattern: Record<string, Json>, event: Json): boolean {
  return Object.entries(pattern).every(([key, rule]) => {
    if (key === '$or' && Array.isArray(rule)) {
      return rule.some((p) => matchesPattern(p as Record<string, Json>, event));
    }
    const value = event !== null && typeof event === 'object' ? (event as Record<string, Json>)[key] : undefined;
    if (Array.isArray(rule)) return matchesField(rule, value);
    if (rule !== null && typeof rule === 'object') {
      return value !== null && typeof value === 'object' && matchesPattern(rule as Record<string, Json>, value);
    }
    return false;
  });
}

function matchesField(rules: Json[], value: Json): boolean {
  const values = Array.isArray(value) ? value : [value];
  return rules.some((rule) => {
    if (rule !== null && typeof rule === 'object' && 'exists' in rule) {
      return (rule as { exists: boolean }).exists === (value !== undefined);
    }
    return value !== undefined && values.some((v) => matchesValue(rule, v));
  });
}

function matchesValue(rule: Json, v: Json): boolean {
  if (rule === null || typeof rule !== 'object') return rule === v;
  const r = rule as Record<string, Json>;
  if ('prefix' in r) return typeof v === 'string' && prefixMatch(r.prefix, v);
  if ('suffix' in r) return typeof v === 'string' && suffixMatch(r.suffix, v);
  if ('equals-ignore-case' in r) {
    return typeof v === 'string' && String(r['equals-ignore-case']).toLowerCase() === v.toLowerCase();
  }
  if ('wildcard' in r) return typeof v === 'string' && wildcard(String(r.wildcard)).test(v);
  if ('numeric' in r) return typeof v === 'number' && numeric(r.numeric as Json[], v);
  if ('anything-but' in r) {
    const but = r['anything-but'];
    if (Array.isArray(but)) return !but.includes(v);
    if (but !== null && typeof but === 'object') return !matchesValue(but, v);
    return but !== v;
  }
  return false;
}

const prefixMatch = (p: Json, v: string) =>
  typeof p === 'string'
    ? v.startsWith(p)
    : v.toLowerCase().startsWith(String((p as Record<string, Json>)['equals-ignore-case']).toLowerCase());
const suffixMatch = (s: Json, v: string) =>
  typeof s === 'string'
    ? v.endsWith(s)
    : v.toLowerCase().endsWith(String((s as Record<string, Json>)['equals-ignore-case']).toLowerCase());
const wildcard = (w: string) =>
  new RegExp(
    `^${w
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );

function numeric(conditions: Json[], v: number): boolean {
  for (let i = 0; i + 1 < conditions.length; i += 2) {
    const op = String(conditions[i]);
    const n = Number(conditions[i + 1]);
    const ok = op === '<' ? v < n : op === '<=' ? v <= n : op === '>' ? v > n : op === '>=' ? v >= n : v === n;
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Targets

export interface RuleRuntimeOptions {
  rules: RuleSpec[];
  functions: Map<string, LocalFunction>;
  /** The local URL and deployed ARN of each queue, by logical id. */
  queues: Map<string, { url: string; arn: string }>;
  /** The deployed ARN of each rule, by logical id (the aws:SourceArn EventBridge acts under). */
  ruleArns: Map<string, string>;
  /** The deployed ARN of each function, by logical id (what the record of calls names). */
  functionArns: Map<string, string>;
  sqs: SQSClient;
  recorder: CallRecorder | undefined;
  log: Log;
  /** Waits before each retry of a failed asynchronous invocation; default 1 s, 2 s. */
  retryDelaysMs?: number[];
  /** Sends a rule's event to an SQS target (default: SendMessage); the stack journals it. */
  sendToTarget?: (queueUrl: string, body: string) => Promise<void>;
}

export interface RuleRuntime {
  /**
   * Routes one event put on the bus `busId` to its rules' targets: resolves once the SQS targets
   * have it (Lambda targets are invoked asynchronously, after); rejects if one could not.
   */
  publish(busId: string, event: Record<string, unknown>): Promise<void>;
  /** Invokes a function asynchronously (Event), with Lambda's retries and dead-letter queue. */
  invokeAsync(fn: LocalFunction, event: unknown, source: { principal: string; sourceArn?: string }): Promise<void>;
  /** Stops retrying; resolves once the invocations and sends under way are finished. */
  drain(): Promise<void>;
}

const DEFAULT_RETRY_DELAYS_MS = [1_000, 2_000];

export function ruleRuntime(opts: RuleRuntimeOptions): RuleRuntime {
  const running = new Set<Promise<void>>();
  let draining = false;
  const delays = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const track = (p: Promise<void>) => {
    running.add(p);
    void p.finally(() => running.delete(p));
  };
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function sendToQueue(queueId: string, body: string, principal: string, via: string, sourceArn?: string) {
    const q = opts.queues.get(queueId);
    if (!q) throw new Error(`no queue ${queueId}`);
    opts.recorder?.record({
      principal,
      via,
      action: 'sqs:SendMessage',
      resource: q.arn,
      ...(sourceArn ? { context: { 'aws:SourceArn': sourceArn } } : {}),
    });
    await opts.sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: body }));
  }

  async function invokeAsync(fn: LocalFunction, event: unknown, source: { principal: string; sourceArn?: string }) {
    opts.recorder?.record({
      principal: source.principal,
      via: 'asynchronous invocation',
      action: 'lambda:InvokeFunction',
      resource: opts.functionArns.get(fn.spec.id) ?? fn.arn,
      ...(source.sourceArn ? { context: { 'aws:SourceArn': source.sourceArn } } : {}),
    });
    const retries = Math.min(fn.spec.asyncRetries, delays.length);
    for (let attempt = 0; ; attempt++) {
      try {
        await fn.invoke(event);
        return;
      } catch (err) {
        if (attempt < retries && !draining) {
          opts.log.warn(`${fn.spec.role}: asynchronous invocation failed; retrying in ${delays[attempt]} ms`, err);
          await wait(delays[attempt]!);
          continue;
        }
        if (fn.spec.deadLetterQueueId) {
          // Lambda sends the event to the function's dead-letter queue with the function's role.
          await sendToQueue(
            fn.spec.deadLetterQueueId,
            JSON.stringify(event),
            `role:${fn.spec.roleId}`,
            'Lambda dead-letter queue',
          );
          opts.log.error(
            `${fn.spec.role}: asynchronous invocation failed ${attempt + 1} time(s); event sent to its dead-letter queue`,
            err,
          );
        } else {
          opts.log.error(`${fn.spec.role}: asynchronous invocation failed ${attempt + 1} time(s); dropped`, err);
        }
        return;
      }
    }
  }

  async function deliver(rule: RuleSpec, target: TargetSpec, event: Record<string, unknown>): Promise<void> {
    const ruleArn = opts.ruleArns.get(rule.id);
    const payload = target.input ?? JSON.stringify(event);
    if (target.kind === 'lambda') {
      const fn = opts.functions.get(target.resourceId);
      if (!fn) throw new Error(`rule ${rule.id} targets ${target.resourceId}, which is not running`);
      await invokeAsync(fn, JSON.parse(payload), { principal: 'service:events.amazonaws.com', sourceArn: ruleArn });
      return;
    }
    const q = opts.queues.get(target.resourceId);
    if (!q) throw new Error(`rule ${rule.id} targets ${target.resourceId}, which is not provisioned`);
    opts.recorder?.record({
      principal: 'service:events.amazonaws.com',
      via: `rule ${rule.id}`,
      action: 'sqs:SendMessage',
      resource: q.arn,
      ...(ruleArn ? { context: { 'aws:SourceArn': ruleArn } } : {}),
    });
    if (opts.sendToTarget) await opts.sendToTarget(q.url, payload);
    else await opts.sqs.send(new SendMessageCommand({ QueueUrl: q.url, MessageBody: payload }));
  }

  return {
    async publish(busId, event) {
      const sends: Promise<void>[] = [];
      for (const rule of opts.rules) {
        if (rule.busId !== busId || !rule.pattern || !matchesPattern(rule.pattern, event)) continue;
        for (const target of rule.targets) {
          const p = deliver(rule, target, event);
          if (target.kind === 'sqs') sends.push(p);
          else track(p.catch((err: unknown) => opts.log.error(`rule ${rule.id}`, err)));
        }
      }
      await Promise.all(sends);
    },
    invokeAsync(fn, event, source) {
      const p = invokeAsync(fn, event, source);
      track(p.catch(() => {}));
      return p;
    },
    async drain() {
      draining = true;
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
