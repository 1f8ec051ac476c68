// The commands' flags, parsed and explained from one table each: `parseFlags` hands a table to
// node:util parseArgs, and `renderHelp` prints the same table, so `--help` cannot list a flag the
// command does not take or miss one it does. A bad flag becomes a UsageError, one line that
// cli/cli.ts prints with a pointer to the help (never parseArgs' stack trace).
import { parseArgs } from 'node:util';
import { BitPredictError } from '../core/errors.js';
import { CONFIG_KEYS } from '../core/config.js';
import { STACK_CONFIG_KEYS } from './stack/config.js';
import type { EnvKeySpec } from '../core/env-config.js';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  /** Given to parseArgs: what the command reads when the flag is absent. */
  readonly default?: string | boolean;
  /** The value's placeholder in the help: N, ISO, DIR, a|b. */
  readonly value?: string;
  readonly doc: string;
  /** The default in words, when the command computes it rather than parseArgs. */
  readonly defaultText?: string;
  /** The BITPREDICT_* key whose value the command takes when the flag is absent. */
  readonly configKey?: string;
  /** Given to parseArgs: the flag may be repeated, its value is the list of every one given. */
  readonly multiple?: boolean;
}

export type FlagTable = Readonly<Record<string, FlagSpec>>;

export interface CommandSpec {
  /** One line for the command list. */
  readonly summary: string;
  /** What follows `bitpredict <name>` in the usage line; the flags are added from the table. */
  readonly args?: string;
  readonly flags?: FlagTable;
  /** Whether arguments other than flags are taken (the command checks how many). */
  readonly positionals?: boolean;
  readonly subcommands?: Readonly<Record<string, CommandSpec>>;
  /** The subcommand run when none is given. */
  readonly defaultSubcommand?: string;
  /** Settings that steer the command (services take no flags: their environment is their input). */
  readonly configKeys?: readonly string[];
  /** Anything else worth knowing before running it. */
  readonly notes?: string;
  readonly example: string;
}

/** A bad flag, value or argument: exit 2 with the message and a pointer to the command's help. */
export class UsageError extends BitPredictError {
  constructor(message: string) {
    super('ERR_CONFIG_INVALID', message);
    this.name = 'UsageError';
  }
}

export function isUsageError(err: unknown): err is UsageError {
  return err instanceof UsageError;
}

/**
 * Optimal string alignment distance: Levenshtein plus the swap of two neighbours, the commonest
 * typo ("trian" is one edit from "train", not two).
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The candidates nearest to `word`, when near enough to be a typo of it (at most three, nearest first). */
export function nearest(word: string, candidates: Iterable<string>): string[] {
  const limit = Math.max(2, Math.floor(word.length / 3));
  return [...candidates]
    .map((c) => ({ c, d: editDistance(word, c) }))
    .filter((x) => x.d <= limit)
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, 3)
    .map((x) => x.c);
}

export function didYouMean(suggestions: string[]): string {
  return suggestions.length === 0 ? '' : ` (did you mean ${suggestions.join(' or ')}?)`;
}

/** The flag's meaning for an error message: "--train-to: the end of training; ...". */
function meaningOf(flags: FlagTable, name: string): string {
  const spec = flags[name];
  return spec ? `: ${spec.doc}` : '';
}

/** parseArgs' error as one line in our words, with the nearest flag for an unknown one. */
function usageErrorOf(err: unknown, flags: FlagTable): unknown {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const token = /Unknown option '([^']+)'/.exec(message)?.[1] ?? message;
    const bare = token.replace(/^-+/, '').replace(/=.*$/, '');
    const flag = token.startsWith('--') ? `--${bare}` : `-${bare}`;
    const suggestions = nearest(bare, Object.keys(flags)).map((f) => `--${f}`);
    return new UsageError(`unknown flag ${flag}${didYouMean(suggestions)}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = /Option '(?:-\w, )?--([\w-]+)/.exec(message)?.[1];
    if (name !== undefined && /argument missing/.test(message)) return new UsageError(`--${name} needs a value${meaningOf(flags, name)}`);
    if (name !== undefined && /does not take an argument/.test(message)) return new UsageError(`--${name} takes no value`);
    if (name !== undefined && /ambiguous/.test(message)) return new UsageError(`--${name} needs a value; one that starts with a dash goes as --${name}=-1`);
    return new UsageError(message);
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /Unexpected argument '([^']*)'/.exec(message)?.[1] ?? message;
    return new UsageError(`unexpected argument "${arg}"`);
  }
  return err;
}

/** parseArgs over the command's own table; a bad flag throws a UsageError. */
export function parseFlags<T extends FlagTable>(flags: T, args: string[], positionals = false) {
  try {
    return parseArgs({ args, options: flags, allowPositionals: positionals, strict: true });
  } catch (err) {
    throw usageErrorOf(err, flags);
  }
}

const KEYS: Readonly<Record<string, EnvKeySpec>> = { ...CONFIG_KEYS, ...STACK_CONFIG_KEYS };

function keyDefault(key: string): string {
  const spec = KEYS[key];
  if (spec === undefined) return key;
  return `${key}, ${spec.default === '' ? 'empty' : spec.default} unless set`;
}

function flagDefault(spec: FlagSpec): string {
  if (spec.multiple === true) return `${spec.defaultText === undefined ? '' : ` (default: ${spec.defaultText})`}; repeatable`;
  if (spec.configKey !== undefined) return ` (default: ${keyDefault(spec.configKey)})`;
  if (spec.defaultText !== undefined) return ` (default: ${spec.defaultText})`;
  if (spec.type === 'string' && spec.default !== undefined) return ` (default: ${String(spec.default)})`;
  return '';
}

function flagName(name: string, spec: FlagSpec): string {
  return spec.type === 'string' ? `--${name} ${spec.value ?? 'VALUE'}` : `--${name}`;
}

/** `bitpredict dlq list [--reason ERR_*] ...`: the synopsis from the table, a line per subcommand. */
export function synopsis(path: string, spec: CommandSpec): string[] {
  if (spec.subcommands) return Object.entries(spec.subcommands).flatMap(([name, sub]) => synopsis(`${path} ${name}`, sub));
  const flags = Object.entries(spec.flags ?? {}).map(([n, f]) => `[${flagName(n, f)}]`);
  return [['bitpredict', path, spec.args ?? '', ...flags].filter((p) => p !== '').join(' ')];
}

function columns(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

/** The help of `bitpredict <path>` (path: "train", "dlq list"), from its spec. */
export function renderHelp(path: string, spec: CommandSpec): string {
  const out = [`bitpredict ${path}: ${spec.summary}`, '', ...synopsis(path, spec).map((line, i) => `${i === 0 ? 'usage:' : '      '} ${line}`)];
  if (spec.subcommands) {
    out.push('', 'subcommands:', ...columns(Object.entries(spec.subcommands).map(([n, s]) => [n, s.summary])));
    if (spec.defaultSubcommand !== undefined) out.push(`  (none given: ${spec.defaultSubcommand})`);
    out.push(`  bitpredict ${path} <subcommand> --help shows its flags`);
  }
  const flagRows: [string, string][] = Object.entries(spec.flags ?? {}).map(([n, f]) => [flagName(n, f), `${f.doc}${flagDefault(f)}`]);
  flagRows.push(['-h, --help', 'print this help and exit']);
  out.push('', 'flags:', ...columns(flagRows));
  if (spec.configKeys && spec.configKeys.length > 0) {
    out.push('', 'configuration (environment; docs/configuration.md lists every key):');
    out.push(...columns(spec.configKeys.map((k) => [k, `${KEYS[k]?.doc ?? ''} (default: ${KEYS[k]?.default || 'empty'})`])));
  }
  if (spec.notes !== undefined) out.push('', spec.notes);
  out.push('', 'example:', `  ${spec.example}`);
  return `${out.join('\n')}\n`;
}
