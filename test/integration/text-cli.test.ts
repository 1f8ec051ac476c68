// The text commands with their sources switched off: they say so and exit 0 without connecting.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { createOutput } from '../../cli/output.js';
import { runNews, runTextReplay, runX } from '../../cli/text.js';

const lines: string[] = [];
const ctx = (args: string[] = []) => ({
  config: loadConfig({}, { BITPREDICT_KAFKA_BROKERS: '127.0.0.1:1', BITPREDICT_RSS_FEEDS: '', BITPREDICT_X_BEARER_TOKEN: '' }),
  logger: createLogger({ level: 'info', name: 'text-cli-test', destination: { write: (m: string) => void lines.push(m) } }),
  output: createOutput({ stdout: process.stdout, stderr: process.stderr }),
  args,
  env: {},
});

describe('text commands', () => {
  it('news and x exit 0 at once when no feed or token is configured', async () => {
    expect(await runNews(ctx())).toBe(0);
    expect(await runX(ctx())).toBe(0);
    expect(lines.map((l) => (JSON.parse(l) as { msg: string; level: number }).msg)).toEqual([
      'news polling is off: BITPREDICT_RSS_FEEDS is empty',
      'X source is off: BITPREDICT_X_BEARER_TOKEN is not set',
    ]);
  });
  it('text-replay rejects bad flags and a missing file before connecting', async () => {
    await expect(runTextReplay(ctx(['--rate=-1']))).rejects.toThrow(/--rate: "-1" is not a number of items per second/);
    await expect(runTextReplay(ctx(['--rate=-1']))).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    await expect(runTextReplay(ctx(['/no/such/file.csv']))).rejects.toMatchObject({ code: 'ERR_REPLAY_FILE' });
  });
});
