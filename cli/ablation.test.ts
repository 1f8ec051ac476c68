// `bitpredict ablation`: bad arguments are refused before any data is read or model trained.
// (The ablation's logic is tested on synthetic data in trainer/ablation.test.ts.)
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import { createLogger } from '../core/logger.js';
import { BitPredictError } from '../core/errors.js';
import { createOutput } from './output.js';
import { ablation } from './ablation.js';

const output = createOutput({ stdout: process.stdout, stderr: process.stderr });

async function refused(args: string[]): Promise<BitPredictError> {
  const config = loadConfig({}, { BITPREDICT_DATA_DIR: '/nonexistent', BITPREDICT_LOG_LEVEL: 'silent' });
  try {
    await ablation({ config, logger: createLogger({ level: 'silent', name: 'test' }), output, env: {}, args });
  } catch (err) {
    expect(err).toBeInstanceOf(BitPredictError);
    return err as BitPredictError;
  }
  throw new Error('expected a BitPredictError, the command succeeded');
}

describe('bitpredict ablation: arguments', () => {
  it('needs the one known study name', async () => {
    expect((await refused([])).code).toBe('ERR_CONFIG_INVALID');
    expect((await refused(['price'])).message).toMatch(/one subcommand, sentiment; got "price"/);
    expect((await refused(['sentiment', 'extra'])).code).toBe('ERR_CONFIG_INVALID');
  });

  it('refuses malformed numbers and times', async () => {
    expect((await refused(['sentiment', '--folds', '0'])).message).toMatch(/--folds/);
    expect((await refused(['sentiment', '--epochs', 'NaN'])).message).toMatch(/--epochs/);
    expect((await refused(['sentiment', '--end', 'yesterday'])).message).toMatch(/--end/);
  });

  it('never reaches into the final evaluation window', async () => {
    const err = await refused(['sentiment', '--end', '2025-03-01']);
    expect(err.code).toBe('ERR_VALIDATION');
    expect(err.message).toMatch(/final evaluation window/);
  });
});
