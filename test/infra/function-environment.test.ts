/**
 * Every function gets, from the stack, every variable functions/config.ts requires: the
 * template's environment (references replaced by stand-in strings) parses without a problem.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/config';
import { resourcesOf, synth } from './helpers';

describe('each function environment in the template', () => {
  const { template } = synth();
  const fns = Object.entries(resourcesOf(template, 'AWS::Lambda::Function'));

  it.each(fns.map(([id, r]) => [id, r] as const))('%s parses as a configuration', (_id, fn) => {
    const vars = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    const env = Object.fromEntries(
      Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? v : 'resolved-by-cloudformation']),
    );
    expect(() => parseConfig(env)).not.toThrow();
  });
});
