/**
 * What the local stack derives from its options and the environment before starting anything:
 * the port, the data dir, the admin key (kept in the data dir so a restart keeps it), and the
 * environment the handlers will see.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../functions/config';
import { ENV } from '../topology';
import { LocalStackError } from './errors';

export const DEFAULT_PORT = 3000;

/** A port from an option or from PORT; 0 means "any free port" (tests). */
export function resolvePort(option: number | undefined, env: Record<string, string | undefined>): number {
  const raw = option ?? env[ENV.port];
  if (raw === undefined || raw === '') return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError([`${ENV.port} must be a whole number from 0 to 65535, got "${String(raw)}"`]);
  }
  return port;
}

/** The SQS emulator's port, from an option or HOOKRELAY_SQS_PORT; 0 (the default) means any free port. */
export function resolveSqsPort(option: number | undefined, env: Record<string, string | undefined>): number {
  const raw = option ?? env[ENV.sqsPort];
  if (raw === undefined || raw === '') return 0;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError([`${ENV.sqsPort} must be a whole number from 0 to 65535, got "${String(raw)}"`]);
  }
  return port;
}

export function resolveDataDir(
  option: string | undefined,
  env: Record<string, string | undefined>,
): string | undefined {
  const dir = option ?? env[ENV.dataDir];
  if (!dir) return undefined;
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  return abs;
}

export function generateApiKey(): string {
  return `hr_admin_${randomBytes(24).toString('base64url')}`;
}

/**
 * The admin key: HOOKRELAY_API_KEY when set; otherwise the one kept in `<dataDir>/admin-key`,
 * created on first start (readable by its owner only); otherwise a fresh one for this run.
 */
export function resolveApiKey(env: Record<string, string | undefined>, dataDir: string | undefined): string {
  const given = env[ENV.apiKey];
  if (given) return given;
  if (!dataDir) return generateApiKey();
  const file = join(dataDir, 'admin-key');
  if (existsSync(file)) {
    const kept = readFileSync(file, 'utf8').trim();
    if (kept) return kept;
  }
  const key = generateApiKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/**
 * Sets environment variables (undefined deletes one) and returns a function that puts back what
 * was there before, so a stopped stack leaves the process as it found it.
 */
export function applyEnv(vars: Record<string, string | undefined>): () => void {
  const previous = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(vars)) {
    if (!previous.has(key)) previous.set(key, process.env[key]);
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  return () => {
    for (const [key, value] of previous) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

/**
 * Claims the data dir for this process (`<dataDir>/stack.pid`). A second stack on the same dir
 * would otherwise die inside dynalite on LevelDB's lock, with an unhelpful "Database is closed".
 * A pid file left by a crashed process is taken over. Returns the release function.
 */
export function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, 'stack.pid');
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(readFileSync(file, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new LocalStackError(`data dir ${dataDir} is in use by another hookrelay stack (pid ${holder})`);
    }
    rmSync(file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
