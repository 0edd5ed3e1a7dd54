/**
 * The shape of the code, measured from its source with the TypeScript compiler (nothing is run):
 *
 * - source files per folder under functions/ (a folder's own files, not its subfolders');
 * - functions in functions/, infra/ and cli/ with more than LIMITS.functionLines lines of their own
 *   (the lines of the functions nested inside a function are not its own);
 * - import circles among the repository's own modules (type-only imports included: a circle of
 *   types still means two files that cannot be read apart).
 *
 *   npx tsx scripts/structure.ts            the figures
 *   npx tsx scripts/structure.ts --check    the same, and exit 1 where a limit is broken
 *
 * test/unit/structure.test.ts holds the tree to the limits in npm test.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const LIMITS = { filesPerFolder: 15, functionLines: 100 } as const;

/** Where functions are held to the length limit. */
export const FUNCTION_ROOTS = ['functions', 'infra', 'cli'] as const;

/** Where import circles are looked for (every folder of our own code; tests included). */
export const IMPORT_ROOTS = ['functions', 'infra', 'cli', 'bench', 'scripts', 'client', 'portal', 'test'] as const;

const SOURCE = /\.(ts|tsx|mts|mjs)$/;
const SKIP_DIRS = new Set(['node_modules', 'cdk.out', 'dist', 'coverage']);

function sourceFiles(root: string, dir: string): string[] {
  const full = path.join(root, dir);
  let names: string[];
  try {
    names = readdirSync(full);
  } catch {
    return [];
  }
  const files: string[] = [];
  for (const name of names.sort()) {
    if (SKIP_DIRS.has(name) || name.startsWith('.')) continue;
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) files.push(...sourceFiles(root, rel));
    else if (SOURCE.test(name) && !name.endsWith('.d.ts')) files.push(rel);
  }
  return files;
}

/** Source files per folder under `dir`, each folder counting only the files directly in it. */
export function filesPerFolder(root = REPO_ROOT, dir = 'functions'): Array<{ folder: string; files: number }> {
  const counts = new Map<string, number>();
  for (const file of sourceFiles(root, dir)) {
    const folder = path.dirname(file);
    counts.set(folder, (counts.get(folder) ?? 0) + 1);
  }
  return [...counts].map(([folder, files]) => ({ folder, files })).sort((a, b) => b.files - a.files);
}

export interface FunctionSize {
  file: string;
  name: string;
  line: number;
  /** Lines from its first to its last. */
  lines: number;
  /** Those lines less the lines of the functions nested in it. */
  own: number;
}

function functionName(node: ts.Node, sf: ts.SourceFile): string {
  const named = node as ts.Node & { name?: ts.Node };
  if (named.name) return named.name.getText(sf);
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent))
    return parent.name.getText(sf);
  if (ts.isCallExpression(parent)) return `(callback of ${parent.expression.getText(sf).slice(0, 40)})`;
  return '(anonymous)';
}

function isFunction(node: ts.Node): node is ts.FunctionLikeDeclaration {
  return (
    ts.isFunctionDeclaration(node) ||
    ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node)
  );
}

/** Every function with a body in one file, with its lines and its own lines. */
export function functionSizes(file: string, text: string): FunctionSize[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const lineOf = (pos: number) => sf.getLineAndCharacterOfPosition(pos).line;
  const sizes: FunctionSize[] = [];
  /** Returns the lines the outermost functions under `node` span (to subtract from their parent). */
  const visit = (node: ts.Node): number => {
    if (isFunction(node) && node.body) {
      const first = lineOf(node.getStart(sf));
      const last = lineOf(node.getEnd());
      const lines = last - first + 1;
      let nested = 0;
      ts.forEachChild(node, (child) => {
        nested += visit(child);
      });
      sizes.push({ file, name: functionName(node, sf), line: first + 1, lines, own: lines - nested });
      return lines;
    }
    let nested = 0;
    ts.forEachChild(node, (child) => {
      nested += visit(child);
    });
    return nested;
  };
  visit(sf);
  return sizes;
}

/** Functions over the limit in FUNCTION_ROOTS, longest first. */
export function longFunctions(root = REPO_ROOT, limit: number = LIMITS.functionLines): FunctionSize[] {
  const all = FUNCTION_ROOTS.flatMap((dir) =>
    sourceFiles(root, dir).flatMap((file) => functionSizes(file, readFileSync(path.join(root, file), 'utf8'))),
  );
  return all.filter((f) => f.own > limit).sort((a, b) => b.own - a.own);
}

const COMPILER_OPTIONS: ts.CompilerOptions = {
  module: ts.ModuleKind.Preserve,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  resolveJsonModule: true,
  allowJs: true,
  jsx: ts.JsxEmit.Preserve,
};

/** Each file's imports of the repository's own files (static imports, re-exports, import()). */
export function importGraph(root = REPO_ROOT): Map<string, Set<string>> {
  const files = IMPORT_ROOTS.flatMap((dir) => sourceFiles(root, dir));
  const known = new Set(files);
  const host = ts.createCompilerHost(COMPILER_OPTIONS);
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const targets = new Set<string>();
    const info = ts.preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true);
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith('.')) continue;
      const resolved = ts.resolveModuleName(ref.fileName, path.join(root, file), COMPILER_OPTIONS, host).resolvedModule
        ?.resolvedFileName;
      if (!resolved) continue;
      const rel = path.relative(root, resolved);
      if (known.has(rel) && rel !== file) targets.add(rel);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The strongly connected groups of more than one file (Tarjan), each sorted. */
export function importCircles(graph: Map<string, Set<string>>): string[][] {
  let index = 0;
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[][] = [];
  const connect = (v: string): void => {
    order.set(v, index);
    low.set(v, index);
    index += 1;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!order.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, order.get(w)!));
    }
    if (low.get(v) === order.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1) circles.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!order.has(v)) connect(v);
  return circles;
}

function main(): void {
  const check = process.argv.includes('--check');
  const folders = filesPerFolder();
  const long = longFunctions();
  const circles = importCircles(importGraph());
  const crowded = folders.filter((f) => f.files > LIMITS.filesPerFolder);

  console.log(`Source files per folder under functions/ (limit ${LIMITS.filesPerFolder}):`);
  for (const f of folders) console.log(`  ${String(f.files).padStart(3)}  ${f.folder}/`);
  console.log(
    `\nFunctions in ${FUNCTION_ROOTS.join('/, ')}/ over ${LIMITS.functionLines} lines of their own: ${long.length}`,
  );
  for (const f of long)
    console.log(`  ${String(f.own).padStart(4)} own (${f.lines} in all)  ${f.file}:${f.line} ${f.name}`);
  console.log(`\nImport circles: ${circles.length}`);
  for (const c of circles) console.log(`  ${c.join(' <-> ')}`);

  if (check && (crowded.length > 0 || long.length > 0 || circles.length > 0)) process.exit(1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
