/**
 * What each command's action gets: the IO, printers, the global options as given, and the
 * option parsers that turn bad input into usage errors (exit code 2).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_STACK, withLocalStack, type GlobalOptions, type OptionSources } from './context';
import { parseDuration } from './format';
import { printer, UsageError, type CliIO } from './io';

export interface Runtime {
  io: CliIO;
  out: ReturnType<typeof printer>;
  err: ReturnType<typeof printer>;
  /** The global options (from the root program) and how they were given. */
  globals(cmd: Command): { opts: GlobalOptions; sources: OptionSources };
  /** Asks before a change unless --yes; true to go on. */
  confirm(question: string, yes: boolean | undefined): Promise<boolean>;
}

export function createRuntime(io: CliIO): Runtime {
  return {
    io,
    out: printer(io.stdout),
    err: printer(io.stderr),
    globals(cmd) {
      let root: Command = cmd;
      while (root.parent) root = root.parent;
      const opts = cmd.optsWithGlobals<GlobalOptions>();
      const sources = { stackExplicit: root.getOptionValueSource('stack') === 'cli' };
      return { opts: withLocalStack({ ...opts, stack: opts.stack ?? DEFAULT_STACK }, sources, io), sources };
    },
    async confirm(question, yes) {
      if (yes || !io.interactive || !io.confirm) return true;
      return io.confirm(question);
    },
  };
}

export function positiveInt(name: string, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from 1 to ${max}.`);
    }
    return n;
  };
}

export function duration(name: string, minMs = 0) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms === undefined || ms < minMs) {
      throw new InvalidArgumentError(
        `${name} must be a duration like 500ms, 1s or 2m${minMs ? ` (at least ${minMs} ms)` : ''}.`,
      );
    }
    return ms;
  };
}

/**
 * `hookrelay dlq` alone, or `hookrelay endpoints frob --app x`: one error line that says there is
 * no such command and names the choices, rather than commander's complaint about the first
 * option it does not know, or its whole help on stderr.
 */
export function missingSubcommand(group: Command): void {
  group
    .usage('<command> [options]')
    .argument('[command]')
    .allowUnknownOption()
    .allowExcessArguments()
    .action((name: string | undefined) => {
      const choices = group.commands.map((c) => c.name()).join('|');
      const what =
        name === undefined || name.startsWith('-')
          ? 'missing command'
          : `no such command: hookrelay ${group.name()} ${name}`;
      throw new UsageError(
        `${what} (the commands: hookrelay ${group.name()} <${choices}>; see hookrelay ${group.name()} --help)`,
      );
    });
}
