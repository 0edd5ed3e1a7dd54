/**
 * The memo on dynalite's condition parser answers exactly what dynalite's own validation
 * answers without it: the same tree bound to each request's own values, the same error for an
 * unused name or value, and every other error as the parser reports it.
 */
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { memoizeParse } from '../../infra/local/dynalite-expressions';

const require = createRequire(import.meta.url);
type Parser = { parse: Parameters<typeof memoizeParse>[0] };
const parser = require('dynalite/db/conditionParser.js') as Parser;
const updateParser = require('dynalite/db/updateParser.js') as Parser;
const originalUpdate = updateParser.parse;
const { validateExpressions } = require('dynalite/validations/index.js') as {
  validateExpressions: (data: Record<string, unknown>) => string | undefined;
};
const original = parser.parse;
afterEach(() => {
  parser.parse = original;
  updateParser.parse = originalUpdate;
});

type Request = Record<string, unknown>;

/** dynalite's answer to a request's expressions: its error, or the trees it would evaluate. */
function validate(req: Request, parse: typeof original, parseUpdate: typeof original = originalUpdate) {
  parser.parse = parse;
  updateParser.parse = parseUpdate;
  const data = structuredClone(req);
  const error = validateExpressions(data);
  return {
    error,
    condition: data._condition,
    keyCondition: data._keyCondition,
    filter: data._filter,
    updates: data._updates,
  };
}

const GUARD =
  '(attribute_not_exists(pk) AND :prev = :zero) OR (attempts = :prev AND #s IN (:a0, :a1) AND (attribute_not_exists(leaseUntil) OR leaseUntil < :now))';

describe('memoized dynalite condition parsing', () => {
  it('binds a kept tree to each request own values', () => {
    const memo = memoizeParse(original);
    for (const now of ['2026-12-01T00:00:00Z', '2026-12-02T00:00:00Z', '2026-12-03T00:00:00Z']) {
      const req = {
        ConditionExpression: GUARD,
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: {
          ':prev': { N: '0' },
          ':zero': { N: '0' },
          ':a0': { S: 'pending' },
          ':a1': { S: 'retrying' },
          ':now': { S: now },
        },
      };
      const plain = validate(req, original);
      expect(plain.error).toBeUndefined();
      expect(validate(req, memo)).toEqual(plain);
      expect(JSON.stringify(validate(req, memo).condition)).toContain(now);
    }
  });

  it('answers update expressions as dynalite does, bound to each request own values', () => {
    const memo = memoizeParse(originalUpdate);
    const u = (UpdateExpression: string, values?: Request, names?: Request): Request => ({
      UpdateExpression,
      ...(values ? { ExpressionAttributeValues: values } : {}),
      ...(names ? { ExpressionAttributeNames: names } : {}),
    });
    const cases: Request[] = [
      u(
        'SET #s = :s, attempts = :a REMOVE leaseToken, leaseUntil',
        { ':s': { S: 'ok' }, ':a': { N: '1' } },
        { '#s': 'status' },
      ),
      u(
        'SET #s = :s, attempts = :a REMOVE leaseToken, leaseUntil',
        { ':s': { S: 'no' }, ':a': { N: '2' } },
        { '#s': 'status' },
      ),
      u('SET l = list_append(if_not_exists(l, :none), :ep)', { ':none': { L: [] }, ':ep': { L: [{ S: 'x' }] } }),
      u('SET l = list_append(if_not_exists(l, :none), :ep)', { ':none': { S: 'x' }, ':ep': { L: [{ S: 'x' }] } }),
      u('ADD n :one', { ':one': { N: '1' } }),
      u('ADD n :one', { ':one': { S: '1' } }),
      u('SET a = :v', { ':v': { S: 'a' }, ':unused': { S: 'b' } }),
      u('SET a = :v, a = :w', { ':v': { S: 'a' }, ':w': { S: 'b' } }),
      u('SET a = :missing'),
    ];
    for (const round of [1, 2]) {
      for (const req of cases) {
        const plain = validate(req, original);
        expect(validate(req, original, memo), `${JSON.stringify(req)} (round ${round})`).toEqual(plain);
      }
    }
    const bound = validate(cases[1]!, original, memo);
    expect(JSON.stringify(bound.updates)).toContain('"no"');
  });

  it('answers errors, unused values and value-dependent parses as dynalite does', () => {
    const memo = memoizeParse(original);
    const c = (ConditionExpression: string, values?: Request, names?: Request): Request => ({
      ConditionExpression,
      ...(values ? { ExpressionAttributeValues: values } : {}),
      ...(names ? { ExpressionAttributeNames: names } : {}),
    });
    const cases: Request[] = [
      c('attribute_not_exists(pk)'),
      c('attribute_not_exists(pk)', { ':unused': { S: 'x' } }),
      c('#s = :v', { ':v': { S: 'a' } }, { '#s': 'status' }),
      c('#s = :v', { ':v': { N: '1' } }, { '#s': 'status' }),
      c('#s = :v', { ':v': { N: '1' } }, { '#s': 'status', '#unused': 'x' }),
      c('size(:v) > :n', { ':v': { S: 'abc' }, ':n': { N: '1' } }),
      c('size(:v) > :n', { ':v': { N: '3' }, ':n': { N: '1' } }),
      c('k BETWEEN :lo AND :hi', { ':lo': { S: 'a' }, ':hi': { S: 'b' } }),
      c('k BETWEEN :lo AND :hi', { ':lo': { S: 'b' }, ':hi': { S: 'a' } }),
      c('attribute_type(k, :t)', { ':t': { S: 'S' } }),
      c('attribute_type(k, :t)', { ':t': { S: 'nope' } }),
      c('status = :v', { ':v': { S: 'a' } }),
      c('a = :missing'),
      c('((a = :v))', { ':v': { S: 'a' } }),
      c('a = = :v', { ':v': { S: 'a' } }),
      c('contains(tags, :t)', { ':t': { S: 'x' } }),
      c('contains(tags, :t)', { ':t': { M: { a: { S: 'x' } } } }),
      {
        KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
        ExpressionAttributeValues: { ':p': { S: 'a' }, ':s': { S: 'b' } },
      },
      {
        KeyConditionExpression: 'pk = :p AND begins_with(sk, :s)',
        ExpressionAttributeValues: { ':p': { S: 'a' }, ':s': { N: '1' } },
      },
      {
        KeyConditionExpression: 'pk = :p OR sk = :s',
        ExpressionAttributeValues: { ':p': { S: 'a' }, ':s': { S: 'b' } },
      },
      {
        KeyConditionExpression: 'pk = :p',
        FilterExpression: '#s IN (:a, :b)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':p': { S: 'a' }, ':a': { S: 'x' }, ':b': { S: 'y' } },
      },
    ];
    // Twice each: the second answer comes from the memo where it keeps one.
    for (const round of [1, 2]) {
      for (const req of cases) {
        expect(validate(req, memo), `${JSON.stringify(req)} (round ${round})`).toEqual(validate(req, original));
      }
    }
  });
});
