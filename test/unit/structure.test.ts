/**
 * The shape the re-cut (issue 18) left, held in npm test: no folder under functions/ with more
 * than 15 source files of its own, no function in functions/, infra/ or cli/ with more than 100
 * lines of its own, and no import circle. The figures come from scripts/structure.ts (the
 * TypeScript compiler's reading of the sources; nothing is run).
 */
import { describe, expect, it } from 'vitest';
import {
  filesPerFolder,
  functionSizes,
  importCircles,
  importGraph,
  LIMITS,
  longFunctions,
} from '../../scripts/structure';

describe('the code’s shape', () => {
  it('keeps every folder under functions/ to at most 15 source files of its own', () => {
    const crowded = filesPerFolder().filter((f) => f.files > LIMITS.filesPerFolder);
    expect(crowded).toEqual([]);
  });

  it('keeps every function in functions/, infra/ and cli/ to at most 100 lines of its own', () => {
    expect(longFunctions().map((f) => `${f.file}:${f.name}`)).toEqual([]);
  });

  it('has no import circle', () => {
    expect(importCircles(importGraph())).toEqual([]);
  });

  it('keeps functions/shared/ at the bottom: it imports nothing of the folders above it', () => {
    const upward = [...importGraph()]
      .filter(([file]) => file.startsWith('functions/shared/'))
      .flatMap(([file, targets]) => [...targets].map((t) => `${file} -> ${t}`))
      .filter((edge) => !/-> functions\/(shared\/|config\.ts$)/.test(edge));
    expect(upward).toEqual([]);
  });
});

describe('the measures themselves', () => {
  it('counts a function’s own lines without the functions nested in it', () => {
    const text = [
      'function outer() {',
      '  const a = 1;',
      '  function inner() {',
      '    return a;',
      '  }',
      '  return inner;',
      '}',
    ].join('\n');
    const sizes = functionSizes('x.ts', text);
    expect(sizes.find((f) => f.name === 'outer')).toMatchObject({ lines: 7, own: 4 });
    expect(sizes.find((f) => f.name === 'inner')).toMatchObject({ lines: 3, own: 3 });
  });

  it('finds a circle of two files, type-only imports included', () => {
    const graph = new Map([
      ['a.ts', new Set(['b.ts'])],
      ['b.ts', new Set(['a.ts'])],
      ['c.ts', new Set(['a.ts'])],
    ]);
    expect(importCircles(graph)).toEqual([['a.ts', 'b.ts']]);
  });
});
