// `bitpredict <command> [subcommand] [flags]`, from argv to exit code. Help and flag checks come
// first, from the command table alone: `--help` and a mistyped flag load no command, read no
// configuration and connect to nothing. Exit codes: 0 done (or help), 1 failure, 2 usage or
// configuration error.
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { resolveLogFormat } from '../core/log-format.js';
import { BitPredictError, errorMessage, isBitPredictError } from '../core/errors.js';
import { redactText } from '../core/redact.js';
import type { Output } from './output.js';
import { serviceNameOf, tracingOn } from './tracing.js';
import type { CommandEntry } from './commands.js';
import { didYouMean, isUsageError, nearest, parseFlags, renderHelp, UsageError, type CommandSpec } from './flags.js';

export interface CliDeps {
  readonly commands: Readonly<Record<string, CommandEntry>>;
  readonly aliases: ReadonlyMap<string, string>;
  readonly output: Output;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Whether stdout is a terminal (BITPREDICT_LOG_FORMAT=auto); default process.stdout.isTTY. */
  readonly isTty?: boolean;
}

function overview(commands: CliDeps['commands']): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.spec.summary}`);
  return `usage: bitpredict <command> [subcommand] [flags]\n\ncommands:\n${lines.join('\n')}\n\nbitpredict <command> --help shows a command's flags, settings and an example.\n`;
}

/** Flags after `--` are arguments, not requests for help. */
function asksForHelp(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** The subcommand the arguments name, its spec and the rest; a UsageError for a wrong one. */
function subcommandOf(spec: CommandSpec, args: string[]): { name: string; spec: CommandSpec; rest: string[] } | null {
  const subs = spec.subcommands;
  if (subs === undefined) return null;
  const [first, ...rest] = args;
  if (first === undefined || first.startsWith('-')) {
    if (spec.defaultSubcommand === undefined) throw new UsageError(`a subcommand is needed: ${Object.keys(subs).join(', ')}`);
    return { name: spec.defaultSubcommand, spec: subs[spec.defaultSubcommand]!, rest: args };
  }
  const sub = subs[first];
  if (sub === undefined) throw new UsageError(`unknown subcommand "${first}"${didYouMean(nearest(first, Object.keys(subs)))}`);
  return { name: first, spec: sub, rest };
}

/** The help text for `args` (the words after the command), when they ask for it. */
function helpFor(name: string, spec: CommandSpec, args: string[]): string {
  const first = args[0];
  const sub = first !== undefined ? spec.subcommands?.[first] : undefined;
  return sub !== undefined ? renderHelp(`${name} ${first}`, sub) : renderHelp(name, spec);
}

/** Checks the flags against the table before anything is loaded; a UsageError names the command path. */
function checkArgs(name: string, spec: CommandSpec, args: string[]): { path: string; problem?: UsageError } {
  let path = name;
  try {
    const sub = subcommandOf(spec, args);
    if (sub === null) parseFlags(spec.flags ?? {}, args, spec.positionals === true);
    else {
      path = `${name} ${sub.name}`;
      parseFlags(sub.spec.flags ?? {}, sub.rest, sub.spec.positionals === true);
    }
    return { path };
  } catch (err) {
    if (isUsageError(err)) return { path, problem: err };
    throw err;
  }
}

function usageFailure(output: Output, path: string, err: UsageError): number {
  output.error(`bitpredict ${path}: ${err.message}\nsee bitpredict ${path} --help`);
  return 2;
}

export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  const { commands, output } = deps;
  const [word, ...rest] = argv;
  if (word === undefined) {
    output.text(overview(commands));
    return 1;
  }
  if (word === '--help' || word === '-h' || (word === 'help' && rest.length === 0)) {
    output.text(overview(commands));
    return 0;
  }
  // `bitpredict help train` is `bitpredict train --help`.
  const [name, args] = word === 'help' ? [rest[0]!, [...rest.slice(1), '--help']] : [word, rest];
  const canonical = deps.aliases.get(name) ?? name;
  const entry = commands[canonical];
  if (entry === undefined) {
    output.error(`bitpredict: unknown command "${name}"${didYouMean(nearest(name, Object.keys(commands)))}\nsee bitpredict --help`);
    return 2;
  }
  if (asksForHelp(args)) {
    output.text(helpFor(canonical, entry.spec, args));
    return 0;
  }
  const { path, problem } = checkArgs(canonical, entry.spec, args);
  if (problem) return usageFailure(output, path, problem);
  return runCommand(canonical, path, entry, args, deps);
}

async function runCommand(name: string, path: string, entry: CommandEntry, args: string[], deps: CliDeps): Promise<number> {
  const { output } = deps;
  let config;
  try {
    config = loadConfig(deps.env);
  } catch (err) {
    output.error(`bitpredict: ${redactText(errorMessage(err))}`);
    return 2;
  }
  // service and version on every line; trace_id and span_id too while spans are exported.
  const tty = deps.isTty ?? process.stdout.isTTY === true;
  const logger = createLogger({
    level: config.logLevel,
    name: serviceNameOf(config, name),
    traceIds: tracingOn(config),
    format: resolveLogFormat(config.logFormat, tty),
    colour: tty && deps.env.NO_COLOR === undefined,
  });
  try {
    const command = await entry.load();
    return (await command({ config, logger, output, args, env: deps.env })) ?? 0;
  } catch (err) {
    // A bad flag value found by the command itself: the same one line and pointer as a bad flag.
    if (isUsageError(err)) return usageFailure(output, path, err);
    // One clear line for errors we understand; a stack trace only for bugs.
    // Either way through redactText: a driver's message may quote a URL or a password.
    if (isBitPredictError(err)) output.error(redactText(`bitpredict: ${err.code}: ${err.message}`));
    else output.error(redactText(`bitpredict: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    return err instanceof BitPredictError && err.code === 'ERR_CONFIG_INVALID' ? 2 : 1;
  }
}
