// `bitpredict stack up [--secure | --brokers N]|down [--purge]|status`: the terminal face of createStack. Human lines go
// to stderr (progress) and stdout (the status table); the exit code of `status` is 0 when every
// server answers and 3 when one does not, so scripts can wait on it.
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandContext } from '../context.js';
import { createStack, type StackStatus } from './stack.js';
import { loadStackConfig } from './config.js';
import { parseBrokerCount } from './cluster.js';

const USAGE = 'usage: bitpredict stack <up [--secure | --brokers N]|down [--purge]|status>';

/** The options after `up`: --secure, --brokers N (or --brokers=N); null when anything else is there. */
export function parseUpArgs(args: readonly string[]): { secure: boolean; brokers?: number } | null {
  let secure = false;
  let brokers: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--secure' && !secure) secure = true;
    else if ((a === '--brokers' || a.startsWith('--brokers=')) && brokers === undefined) {
      brokers = parseBrokerCount(a === '--brokers' ? args[++i] : a.slice('--brokers='.length));
    } else return null;
  }
  return brokers === undefined ? { secure } : { secure, brokers };
}

/** Repository root: this file lives in <root>/cli/stack (or <root>/dist/cli/stack when built). */
export function repoRoot(fileUrl: string = import.meta.url): string {
  const here = dirname(fileURLToPath(fileUrl));
  const up = resolve(here, '..', '..');
  return basename(up) === 'dist' ? resolve(up, '..') : up;
}

export function formatStatus(status: StackStatus): string {
  const lines = status.services.map((s) => {
    const who = s.state === 'running' || s.state === 'starting' ? (s.owned ? 'owned' : 'external') : '-';
    const pid = s.pid === null ? '-' : String(s.pid);
    return `${s.name.padEnd(12)} ${s.state.padEnd(9)} pid ${pid.padEnd(8)} ${s.address.padEnd(16)} ${who.padEnd(9)} ${s.label}`;
  });
  return `${lines.join('\n')}\n`;
}

export async function run(ctx: CommandContext): Promise<number> {
  const [sub, ...rest] = ctx.args;
  let upOpts: ReturnType<typeof parseUpArgs> = null;
  try {
    upOpts = sub === 'up' ? parseUpArgs(rest) : null;
  } catch (err) {
    ctx.output.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const valid =
    sub === 'up' ? upOpts !== null : sub === 'down' ? rest.every((a) => a === '--purge') && rest.length <= 1 : sub === 'status' && rest.length === 0;
  if (!valid) {
    ctx.output.error(USAGE);
    return 2;
  }
  const config = loadStackConfig(ctx.env);
  const stack = createStack({
    config,
    logger: ctx.logger,
    rootDir: repoRoot(),
    progress: (line) => ctx.output.note(`stack: ${line}`),
    // The JVM that runs Apicurio may live only in BITPREDICT_STACK_JAVA_HOME or JAVA_HOME.
    javaHome: config.stack.javaHome,
  });
  try {
    if (sub === 'up') {
      const status = await stack.up(upOpts ?? {});
      const cluster = stack.cluster();
      if (cluster) ctx.output.line(`bootstrap: ${cluster.cluster.bootstrap}  (BITPREDICT_KAFKA_BROKERS; settings in ${cluster.cluster.clientEnv})`);
      ctx.output.text(formatStatus(status));
      ctx.output.line(`logs: ${stack.layout.logsDir}  (stop with: npm run stack:down)`);
      return status.allUp ? 0 : 3;
    }
    if (sub === 'down') {
      await stack.down({ purge: rest.includes('--purge') });
      return 0;
    }
    const status = await stack.status();
    ctx.output.text(formatStatus(status));
    return status.allUp ? 0 : 3;
  } finally {
    await stack.close();
  }
}
