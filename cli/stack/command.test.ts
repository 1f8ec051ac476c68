import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createOutput } from '../output.js';
import { formatStatus, repoRoot, run } from './command.js';

const ctx = (args: string[]) => ({
  config: loadConfig({}),
  logger: createLogger({ level: 'silent' }),
  output: createOutput({ stdout: process.stdout, stderr: process.stderr }),
  args,
  env: {},
});

describe('stack command', () => {
  it.each([[[]], [['start']], [['up', '--purge']], [['down', '--force']], [['status', 'extra']]])('rejects %j with usage and exit 2', async (args) => {
    expect(await run(ctx(args))).toBe(2);
  });

  it('finds the repository root from source and from dist', () => {
    expect(repoRoot('file:///repo/cli/stack/command.ts')).toBe('/repo');
    expect(repoRoot('file:///repo/dist/cli/stack/command.js')).toBe('/repo');
  });

  it('prints one line per server with state, pid, address and ownership', () => {
    const text = formatStatus({
      dir: '/repo/.stack',
      allUp: false,
      services: [
        { name: 'kafka', label: 'Kafka 4.1.1', state: 'running', pid: 123, address: '127.0.0.1:9092', owned: true, logFile: null },
        { name: 'registry', label: 'Apicurio Registry 3.3.3', state: 'stopped', pid: null, address: '127.0.0.1:8081', owned: false, logFile: null },
        { name: 'redis', label: 'Redis', state: 'running', pid: null, address: '127.0.0.1:6379', owned: false, logFile: null },
      ],
    });
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^kafka\s+running\s+pid 123\s+127\.0\.0\.1:9092\s+owned\s+Kafka 4\.1\.1$/);
    expect(lines[1]).toMatch(/^registry\s+stopped\s+pid -\s+127\.0\.0\.1:8081\s+-\s+Apicurio Registry 3\.3\.3$/);
    expect(lines[2]).toMatch(/^redis\s+running\s+pid -\s+127\.0\.0\.1:6379\s+external\s+Redis$/);
  });
});
