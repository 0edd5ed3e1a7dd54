/**
 * What the embedded local stack (`npm start`) promises to the programs around it, the CLI
 * first: the fixed account and region its resources live in, and the file where it writes its
 * endpoints while it runs, so `npx hookrelay` finds it without `--endpoint-url`.
 *
 * This module imports nothing of the local stack itself: the shipped CLI reads it without
 * loading an emulator.
 *
 * @example
 * const running = readLocalStackFile(process.cwd());
 * if (running) console.log(running.apiUrl, running.sqsEndpoint);
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** The local stack's account id: its queue URLs are `<sqs endpoint>/123456789012/<name>`. */
export const LOCAL_ACCOUNT_ID = '123456789012';
export const LOCAL_REGION = 'us-east-1';

/** `.hookrelay/local.json` under the directory `npm start` runs in (the repository's root). */
export const LOCAL_STACK_FILE = join('.hookrelay', 'local.json');

/** The file's content. The admin key itself is never in it: `apiKeyFile` names where it is kept. */
export interface LocalStackFile {
  /** The process that serves these endpoints; a file whose process is gone is stale. */
  pid: number;
  apiUrl: string;
  /** The local SQS endpoint (its queue URLs follow from it, see LOCAL_ACCOUNT_ID). */
  sqsEndpoint: string;
  /** Where PutEvents is served (AWS_ENDPOINT_URL_EVENTBRIDGE). */
  eventsUrl: string;
  /** A file readable by its owner only that holds the admin key, unless the key came from HOOKRELAY_API_KEY. */
  apiKeyFile?: string;
  dataDir?: string;
}

/** Writes the file (whole or not at all) and returns a function that removes it. */
export function writeLocalStackFile(dir: string, content: LocalStackFile): () => void {
  const file = resolve(dir, LOCAL_STACK_FILE);
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
  return () => {
    // Only if it is still ours: a second stack may have written its own since.
    const now = readFile(file);
    if (now?.pid === content.pid) rmSync(file, { force: true });
  };
}

function readFile(file: string): LocalStackFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LocalStackFile>;
    if (typeof parsed.pid !== 'number' || typeof parsed.apiUrl !== 'string' || typeof parsed.sqsEndpoint !== 'string')
      return undefined;
    return parsed as LocalStackFile;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The running local stack's file, looked for in `dir` and its parents (so the CLI finds it from
 * a subfolder of the repository); undefined when there is none or its process has ended.
 */
export function readLocalStackFile(dir: string): (LocalStackFile & { file: string }) | undefined {
  for (let cur = resolve(dir); ; cur = dirname(cur)) {
    const file = join(cur, LOCAL_STACK_FILE);
    const found = readFile(file);
    if (found) return isAlive(found.pid) ? { ...found, file } : undefined;
    if (dirname(cur) === cur) return undefined;
  }
}
