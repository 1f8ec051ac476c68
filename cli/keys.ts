// `bitpredict keys create --name <n> --scope read|admin | list | revoke <id>`: the gateway's API
// keys in Redis. create prints the key on stdout (alone, so `KEY=$(bitpredict keys create ...)`
// works) and the notes on stderr; the key cannot be shown again, only its hash is kept.
import { parseArgs } from 'node:util';
import { KEYS_CREATE_FLAGS } from './specs.js';
import { UsageError } from './flags.js';
import type { CommandContext } from './context.js';
import { formatTable, type Output } from './output.js';
import { createRedis } from '../core/redis.js';
import { errorMessage } from '../core/errors.js';
import { createKeyStore, isKeyId, isScope, NAME_MAX, type ApiKeyRecord, type KeyStore } from '../gateway/auth/keys.js';

function table(records: ApiKeyRecord[]): string {
  return formatTable([['ID', 'NAME', 'SCOPE', 'CREATED', 'REVOKED'], ...records.map((r) => [r.id, r.name, r.scope, r.createdAt, r.revokedAt ?? '-'])]);
}

type Parsed = { sub: 'create'; name: string; scope: 'read' | 'admin' } | { sub: 'list' } | { sub: 'revoke'; id: string } | { problem: string };

// Flags are checked before anything connects, so a typo costs no Redis round trip.
function parse(args: string[]): Parsed {
  const [sub, ...rest] = args;
  let values: { name?: string | undefined; scope?: string | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: KEYS_CREATE_FLAGS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    return { problem: errorMessage(err) };
  }
  if (sub === 'create') {
    if (positionals.length > 0) return { problem: `create takes no arguments besides flags (got "${positionals.join(' ')}")` };
    const name = values.name?.trim() ?? '';
    if (name.length === 0 || name.length > NAME_MAX) return { problem: `--name is required, 1 to ${NAME_MAX} characters` };
    if (!isScope(values.scope)) return { problem: `--scope must be read or admin${values.scope === undefined ? '' : `, not "${values.scope}"`}` };
    return { sub, name, scope: values.scope };
  }
  if (values.name !== undefined || values.scope !== undefined) return { problem: '--name and --scope belong to create' };
  if (sub === 'list' || sub === undefined) {
    if (positionals.length > 0) return { problem: `list takes no arguments (got "${positionals.join(' ')}")` };
    return { sub: 'list' };
  }
  if (sub === 'revoke') {
    const [id, ...extra] = positionals;
    if (id === undefined || extra.length > 0) return { problem: 'revoke takes exactly one key id' };
    if (!isKeyId(id)) return { problem: `"${id}" is not a key id (12 hex digits, as keys list shows them)` };
    return { sub, id };
  }
  return { problem: `unknown subcommand "${sub}"` };
}

async function runParsed(store: KeyStore, output: Output, p: Exclude<Parsed, { problem: string }>): Promise<number> {
  switch (p.sub) {
    case 'create': {
      const { key, record } = await store.create(p.name, p.scope);
      output.line(key);
      output.note(
        `created API key ${record.id} (name "${record.name}", scope ${record.scope}).\n` +
          'This is the only time the key is shown: store it now, it cannot be shown again (only its hash is kept).',
      );
      return 0;
    }
    case 'list': {
      const records = await store.list();
      if (records.length === 0) output.line('no API keys');
      else output.text(table(records));
      return 0;
    }
    case 'revoke': {
      const before = (await store.status([p.id])).get(p.id);
      const record = await store.revoke(p.id);
      if (!record) {
        output.error(`bitpredict keys: no API key with id ${p.id}`);
        return 1;
      }
      output.line(
        before === 'revoked'
          ? `API key ${record.id} ("${record.name}") was already revoked at ${record.revokedAt ?? ''}`
          : `revoked API key ${record.id} ("${record.name}"); gateways refuse it now and close its WebSockets within BITPREDICT_GATEWAY_KEY_RECHECK_MS`,
      );
      return 0;
    }
  }
}

export async function keys(ctx: CommandContext): Promise<number> {
  const parsed = parse(ctx.args);
  // Printed by cli/cli.ts as `bitpredict keys <sub>: <problem>` with the pointer to its --help.
  if ('problem' in parsed) throw new UsageError(parsed.problem);
  const redis = await createRedis({ config: ctx.config.redis, logger: ctx.logger });
  try {
    return await runParsed(createKeyStore(redis, ctx.config.redis.keyPrefix), ctx.output, parsed);
  } finally {
    redis.disconnect();
  }
}
