// What every `bitpredict` command receives from the CLI's entrypoint (cli/main.ts), which loads
// it once per process. Commands import this type from here, not from main.ts, so that main.ts can
// import the commands without a cycle.
import type { Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';

export interface CommandContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly args: string[];
}

export type Command = (ctx: CommandContext) => Promise<number | void>;
