// What every `bitpredict` command receives from the CLI's entrypoint (cli/main.ts), which loads
// it once per process. Commands import this type from here, not from main.ts, so that main.ts can
// import the commands without a cycle.
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { Output } from './output.js';

export interface CommandContext {
  /** The services' configuration, validated once. */
  readonly config: Config;
  readonly logger: Logger;
  /** Every line for people or scripts (results on stdout, notes and errors on stderr) goes through this. */
  readonly output: Output;
  readonly args: string[];
  /** The process environment, for the commands that own other keys (the stack's). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export type Command = (ctx: CommandContext) => Promise<number | void>;
