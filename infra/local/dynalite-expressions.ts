/**
 * Parses each of dynalite's condition and update expressions once, not on every request.
 *
 * dynalite (4.0.0) parses every ConditionExpression, KeyConditionExpression and FilterExpression
 * with a PEG parser that backtracks without memoizing: a nested condition such as the delivery
 * outcome's guard, `(attribute_not_exists(pk) AND :prev = :zero) OR (attempts = :prev AND #s IN
 * (...) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now))`, takes about 1.4 ms of the
 * one JavaScript thread each time, against 0.07 ms for `attribute_not_exists(pk)`, and the
 * outcome's UpdateExpression 0.1 ms more. Under the throughput benchmark that was a quarter of
 * the whole process's CPU: the emulator's cost, which DynamoDB does not have (and does not bill).
 * The update parser reads its values' types only, like the condition parser.
 *
 * The parse depends on the expression, its attribute names and the types of its values (the
 * parser checks operand types), never on the values themselves, except for BETWEEN (it compares
 * its bounds) and attribute_type (it reads its argument): those are always parsed afresh. So the
 * tree is kept by (expression, names, value types) with each value replaced by a reference to
 * its placeholder; a later request gets a copy bound to its own values, and the same marks of
 * used names and values that the parser would have made. A parse that reports an error is not
 * kept: errors are answered exactly as dynalite answers them.
 */
import { createRequire } from 'node:module';

type Parse = (input: string, options: { context: Context }) => unknown;

interface Context {
  attrNames?: Record<string, string>;
  attrVals?: Record<string, Record<string, unknown>>;
  unusedAttrNames?: Record<string, boolean>;
  unusedAttrVals?: Record<string, boolean>;
  isKeyCondition?: boolean;
}

/** A value's place in a kept tree: `:name`, to be bound to the request's own value. */
class ValueRef {
  constructor(readonly name: string) {}
}

interface Kept {
  tree: unknown;
  usedNames: string[];
  usedVals: string[];
}

/** Parses that read values, not only their types: never kept. */
const VALUE_DEPENDENT = /\bBETWEEN\b|\battribute_type\b/i;
const MAX_KEPT = 500;

function copy(node: unknown, swap: (o: object) => unknown): unknown {
  if (node === null || typeof node !== 'object') return node;
  const swapped = swap(node);
  if (swapped !== undefined) return swapped;
  if (Array.isArray(node)) return node.map((n) => copy(n, swap));
  const out: Record<string, unknown> = Object.getPrototypeOf(node) === null ? Object.create(null) : {};
  for (const [k, v] of Object.entries(node)) out[k] = copy(v, swap);
  return out;
}

export function memoizeParse(parse: Parse): Parse {
  const kept = new Map<string, Kept>();
  return (input, options) => {
    const ctx = options.context;
    if (VALUE_DEPENDENT.test(input)) return parse(input, options);
    const vals = ctx.attrVals ?? {};
    const key = JSON.stringify([
      input,
      ctx.isKeyCondition === true,
      ctx.attrNames ?? null,
      Object.entries(vals).map(([k, v]) => [k, v && typeof v === 'object' ? Object.keys(v) : typeof v]),
    ]);
    const hit = kept.get(key);
    if (hit) {
      for (const n of hit.usedNames) delete ctx.unusedAttrNames?.[n];
      for (const v of hit.usedVals) delete ctx.unusedAttrVals?.[v];
      return copy(hit.tree, (o) => (o instanceof ValueRef ? vals[o.name] : undefined));
    }
    const unusedNames = Object.keys(ctx.unusedAttrNames ?? {});
    const unusedVals = Object.keys(ctx.unusedAttrVals ?? {});
    const result = parse(input, options);
    // dynalite's parsers answer an invalid expression with its message.
    if (typeof result !== 'object' || result === null) return result;
    const byIdentity = new Map<object, string>(Object.entries(vals).map(([k, v]) => [v, k]));
    if (kept.size >= MAX_KEPT) kept.clear();
    kept.set(key, {
      tree: copy(result, (o) => (byIdentity.has(o) ? new ValueRef(byIdentity.get(o)!) : undefined)),
      usedNames: unusedNames.filter((n) => !ctx.unusedAttrNames?.[n]),
      usedVals: unusedVals.filter((v) => !ctx.unusedAttrVals?.[v]),
    });
    return result;
  };
}

let installed = false;

/** Installs the memo on dynalite's condition and update parsers (once per process). */
export function memoizeDynaliteExpressions(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  for (const name of ['conditionParser', 'updateParser']) {
    const parser = require(`dynalite/db/${name}.js`) as { parse: Parse };
    parser.parse = memoizeParse(parser.parse);
  }
}
