// What a person learns by typing: `--help` on every command of the table (a new command without
// help, or a help that misses one of its flags, fails here), and one line plus a pointer to the
// help for a mistyped flag, value or command, never a stack trace.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ALIASES, COMMANDS, type CommandEntry } from './commands.js';
import { runCli } from './cli.js';
import { createOutput } from './output.js';
import { editDistance, nearest, UsageError, type CommandSpec } from './flags.js';
import { CONFIG_KEYS } from '../core/config.js';
import { STACK_CONFIG_KEYS } from './stack/config.js';

/** The command table with loads that record the call: help and flag checks must load nothing. */
function unloadable(commands: Readonly<Record<string, CommandEntry>>): { commands: Record<string, CommandEntry>; loaded: string[] } {
  const loaded: string[] = [];
  const wrapped = Object.fromEntries(
    Object.entries(commands).map(([name, entry]) => [
      name,
      {
        spec: entry.spec,
        load: () => {
          loaded.push(name);
          return Promise.reject(new Error(`${name} was loaded`));
        },
      },
    ]),
  );
  return { commands: wrapped, loaded };
}

async function cli(argv: string[], commands: Readonly<Record<string, CommandEntry>> = COMMANDS): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const output = createOutput({ stdout: { write: (c: string) => (out += c) }, stderr: { write: (c: string) => (err += c) } });
  const code = await runCli(argv, { commands, aliases: ALIASES, output, env: {} });
  return { code, out, err };
}

/** Every path with its spec: "train", "dlq", "dlq list", ... */
function paths(): [string, CommandSpec][] {
  return Object.entries(COMMANDS).flatMap(([name, { spec }]) => [
    [name, spec] as [string, CommandSpec],
    ...Object.entries(spec.subcommands ?? {}).map(([sub, s]) => [`${name} ${sub}`, s] as [string, CommandSpec]),
  ]);
}

const KNOWN_KEYS = new Set([...Object.keys(CONFIG_KEYS), ...Object.keys(STACK_CONFIG_KEYS)]);

describe('bitpredict <command> --help', () => {
  it.each(paths())('%s --help: usage, every flag with its meaning, an example; exit 0, nothing loaded', async (path, spec) => {
    const { commands, loaded } = unloadable(COMMANDS);
    for (const help of ['--help', '-h']) {
      const r = await cli([...path.split(' '), help], commands);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^bitpredict ${path}: \\S`));
      expect(r.out).toContain(`usage: bitpredict ${path}`);
      for (const [flag, f] of Object.entries(spec.flags ?? {})) {
        expect(f.doc.length, `${path} --${flag}`).toBeGreaterThan(0);
        expect(r.out).toMatch(new RegExp(`\\n  --${flag}\\b.*${f.doc.slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
        if (f.configKey !== undefined) expect(r.out).toContain(f.configKey);
      }
      for (const sub of Object.keys(spec.subcommands ?? {})) expect(r.out).toContain(`bitpredict ${path} ${sub}`);
      expect(r.out).toMatch(new RegExp(`\\nexample:\\n {2}.*bitpredict ${path.split(' ')[0]}`));
    }
    expect(loaded).toEqual([]);
  });

  it('names only configuration keys that exist', () => {
    for (const [path, spec] of paths()) {
      for (const key of spec.configKeys ?? []) expect(KNOWN_KEYS, `${path}: ${key}`).toContain(key);
      for (const f of Object.values(spec.flags ?? {})) if (f.configKey !== undefined) expect(KNOWN_KEYS, path).toContain(f.configKey);
    }
  });

  it('bitpredict --help and help <command> work too', async () => {
    const all = await cli(['--help']);
    expect(all.code).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(all.out).toContain(`\n  ${name} `);
    const help = await cli(['help', 'dlq', 'redrive'], unloadable(COMMANDS).commands);
    expect(help.code).toBe(0);
    expect(help.out).toContain('--dry-run');
  });

  it('train --help states what --train-to means: the validation days follow it', async () => {
    const r = await cli(['train', '--help'], unloadable(COMMANDS).commands);
    expect(r.out).toMatch(/--train-to ISO +end of training; the --val-days days that FOLLOW it \(30 by default\) are the validation range/);
  });
});

describe('a bad flag, value or command', () => {
  it('an unknown flag: one line with the nearest flag, the pointer to --help, exit 2, nothing loaded', async () => {
    const { commands, loaded } = unloadable(COMMANDS);
    const r = await cli(['train', '--trian-to', '2024-01-01'], commands);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe('bitpredict train: unknown flag --trian-to (did you mean --train-to?)\nsee bitpredict train --help\n');
    const sub = await cli(['dlq', 'list', '--dry-rn'], commands);
    expect(sub.err).toBe('bitpredict dlq list: unknown flag --dry-rn\nsee bitpredict dlq list --help\n');
    const service = await cli(['features', '--bogus=1'], commands);
    expect(service.err).toBe('bitpredict features: unknown flag --bogus\nsee bitpredict features --help\n');
    expect(loaded).toEqual([]);
  });

  it('a flag without its value, a value on a switch, an argument where none is taken', async () => {
    const { commands } = unloadable(COMMANDS);
    expect((await cli(['train', '--train-to'], commands)).err).toMatch(
      /^bitpredict train: --train-to needs a value: end of training; the --val-days days that FOLLOW it/,
    );
    expect((await cli(['train', '--live=yes'], commands)).err).toMatch(/^bitpredict train: --live takes no value\n/);
    expect((await cli(['gateway', 'now'], commands)).err).toMatch(/^bitpredict gateway: unexpected argument "now"\n/);
    expect((await cli(['dlq'], commands)).err).toMatch(/^bitpredict dlq: a subcommand is needed: list, show, redrive\n/);
    const wrongSub = await cli(['models', 'shwo'], commands);
    expect(wrongSub.code).toBe(2);
    expect(wrongSub.err).toBe('bitpredict models: unknown subcommand "shwo" (did you mean show?)\nsee bitpredict models --help\n');
  });

  it('an unknown command suggests the nearest ones', async () => {
    const r = await cli(['trian']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('bitpredict: unknown command "trian" (did you mean train?)\nsee bitpredict --help\n');
    expect((await cli(['frobnicate'])).err).toBe('bitpredict: unknown command "frobnicate"\nsee bitpredict --help\n');
  });

  it('data: a subcommand is needed, a wrong one or a mistyped flag is named, nothing loaded', async () => {
    const { commands, loaded } = unloadable(COMMANDS);
    const none = await cli(['data'], commands);
    expect(none.code).toBe(2);
    expect(none.err).toBe('bitpredict data: a subcommand is needed: inspect, import, fetch\nsee bitpredict data --help\n');
    expect((await cli(['data', 'inspekt', 'f.csv'], commands)).err).toContain('unknown subcommand "inspekt" (did you mean inspect?)');
    const typo = await cli(['data', 'import', 'f.csv', '--colums', 'time=t'], commands);
    expect(typo.code).toBe(2);
    expect(typo.err).toContain('bitpredict data import:');
    expect(typo.err).toContain('--columns');
    expect(loaded).toEqual([]);
  });

  it("a bad value the command finds is printed the same way, with the command's path", async () => {
    const commands: Record<string, CommandEntry> = {
      fake: {
        spec: { summary: 'a command that refuses its value', example: 'bitpredict fake' },
        load: () =>
          Promise.resolve(() => {
            throw new UsageError('--val-days: "abc" is not a whole number >= 1');
          }),
      },
    };
    const r = await cli(['fake'], commands);
    expect(r.code).toBe(2);
    expect(r.err).toBe('bitpredict fake: --val-days: "abc" is not a whole number >= 1\nsee bitpredict fake --help\n');
  });
});

describe('editDistance and nearest', () => {
  it('counts a swap of neighbours as one edit', () => {
    expect(editDistance('trian', 'train')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(nearest('trian', Object.keys(COMMANDS))).toEqual(['train']);
    expect(nearest('frobnicate', Object.keys(COMMANDS))).toEqual([]);
  });
});

// The real entrypoint, as a person runs it (no stack needed: nothing connects).
function bitpredict(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('cli/main.ts', () => {
  it('train --help prints the help and exits 0 (it crashed with ERR_PARSE_ARGS_UNKNOWN_OPTION)', () => {
    const r = bitpredict(['train', '--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('usage: bitpredict train');
  });

  it('a mistyped flag: two lines on stderr, exit 2, no stack trace', () => {
    const r = bitpredict(['train', '--trian-to', '2024-01-01T00:00:00Z']);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('bitpredict train: unknown flag --trian-to (did you mean --train-to?)\nsee bitpredict train --help\n');
  });

  it('a --train-to whose validation days reach the final window says so, before anything loads or connects', () => {
    const r = bitpredict(['train', '--train-to', '2024-12-20T00:00:00Z']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^bitpredict train: --train-to 2024-12-20T00:00:00Z is too late: training ends there and the 30 validation days after it \(--val-days 30\) would end at 2025-01-19T00:00:00.000Z, inside the final evaluation window that starts 2025-01-01T00:00:00.000Z\. The latest --train-to that works with --val-days 30 is 2024-12-02T00:00:00.000Z \(or give fewer --val-days\)\nsee bitpredict train --help\n$/,
    );
    // The date as typed (a bare date here), the validation end --val-days later, and the latest that works.
    const short = bitpredict(['train', '--train-to', '2024-12-30', '--val-days', '5']);
    expect(short.status).toBe(2);
    expect(short.stderr).toContain(
      '--train-to 2024-12-30 is too late: training ends there and the 5 validation days after it (--val-days 5) would end at 2025-01-04T00:00:00.000Z',
    );
    expect(short.stderr).toContain('The latest --train-to that works with --val-days 5 is 2024-12-27T00:00:00.000Z');
  });
});
