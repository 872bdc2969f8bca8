import { logLevelProblem, type LogLevel } from '../config/config';
import { COMMANDS, commandHelp, type CommandName, type CommandSpec } from './commands';

/**
 * A command-line tool's usage mistake: exit code 2 with one line. `seeHelp` adds "see synq <command> --help" to it
 * (a mistake in the arguments themselves; not, say, an epoch that was never opened).
 */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly seeHelp = true,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A command's words (subcommand, numbers, names) and options, checked against its entry in COMMANDS. */
export interface CommandLine {
  words: string[];
  /** An option's value; undefined when it was not given. */
  value(name: string): string | undefined;
  /** Whether a flag (or an option) was given. */
  has(name: string): boolean;
}

/** `--help` or `-h` before any `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/**
 * The first thing every script does: with `--help` or `-h` anywhere, prints its usage and exits 0 (before any work and
 * whatever else is on the line); otherwise reads its arguments, throwing a UsageError for a mistake.
 */
export function readCommandLine(name: CommandName, argv: readonly string[]): CommandLine {
  if (wantsHelp(argv)) {
    process.stdout.write(`${commandHelp(name)}\n`);
    process.exit(0);
  }
  return parseCommandLine(COMMANDS[name], argv);
}

/**
 * `--name value`, `--name=value` and `--flag` as the command declares them, and words; `--` ends the options. An
 * unknown option, a missing value, a value given to a flag, an option given twice or one that is for another of the
 * command's subcommands is a UsageError. A word may start with `-` when a digit follows (`-5`: the check of the
 * number reports it).
 */
export function parseCommandLine(spec: CommandSpec, argv: readonly string[]): CommandLine {
  const words: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      words.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      words.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const name = equals > 0 && arg.startsWith('--') ? arg.slice(0, equals) : arg;
    const option = spec.options.find((candidate) => candidate.name === name);
    if (!option) throw new UsageError(`unknown option ${printable(name)}`);
    if (options.has(name)) throw new UsageError(`${name} is given twice`);
    if (option.value === undefined) {
      if (equals > 0 && name !== arg) throw new UsageError(`${name} takes no value`);
      options.set(name, true);
      continue;
    }
    let value: string | undefined;
    if (name !== arg) value = arg.slice(equals + 1);
    else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      }
    }
    if (value === undefined || value === '') throw new UsageError(`${name} needs a value (${name} ${option.value})`);
    options.set(name, value);
  }
  for (const option of spec.options) {
    if (option.only && options.has(option.name) && !option.only.includes(words[0])) {
      throw new UsageError(`${option.name} goes with ${option.only.join(' or ')} only`);
    }
  }
  return {
    words,
    value: (name) => {
      const value = options.get(name);
      return typeof value === 'string' ? value : undefined;
    },
    has: (name) => options.has(name),
  };
}

/** A whole number from `min` to `max` written in decimal digits, or a UsageError naming `what`. */
export function wholeNumber(what: string, text: string | undefined, min: number, max: number): number {
  const range = `a whole number from ${min} to ${max}`;
  if (text === undefined) throw new UsageError(`${what} must be ${range}`);
  if (!/^\d{1,16}$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${what} must be ${range}, got "${printable(text)}"`);
  return Number(text);
}

/** No more words than `expected` names, or a UsageError naming the first extra one. */
export function noMoreWords(words: readonly string[], expected: number): void {
  if (words.length > expected) throw new UsageError(`unexpected argument "${printable(words[expected])}"`);
}

/** `--log-level LEVEL`, if given: one of pino's levels, or a UsageError. */
export function logLevelOption(commandLine: CommandLine): LogLevel | undefined {
  const level = commandLine.value('--log-level');
  if (level === undefined) return undefined;
  const problem = logLevelProblem(level);
  if (problem) throw new UsageError(`--log-level ${problem}`);
  return level as LogLevel;
}

/** A value as it can be shown on one line. */
const printable = (text: string) => JSON.stringify(text).slice(1, -1).slice(0, 80);
