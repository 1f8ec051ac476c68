// The real data sets (../shared/data, or TEST_SHARED_DATA_DIR) for tests that read them in
// place. A clone without them (someone who cloned the repository from GitHub) still runs the
// suite: a test that needs a missing file is skipped, and the skip says which file and how to
// provide it. Under CI (CI=true, set by .ci/run), which has the data, a missing file fails the
// test file instead, so that no test silently stops running there.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** The folder of the real data sets the tests read (a test knob: no BITPREDICT_ prefix, which the services refuse when they do not know it). */
export const SHARED_DATA_DIR = resolve(REPO_ROOT, process.env.TEST_SHARED_DATA_DIR ?? '../shared/data');

/** The merged hourly BTCUSDT candles (README section 1f), the file most tests replay. */
export const HOURLY_MERGED = 'btc_binance_spot_1h_merged_2017_2026_DERIVED/BTCUSDT_1h_merged.csv';

/** Absolute path of a file of the data folder. */
export function sharedDataPath(file: string): string {
  return resolve(SHARED_DATA_DIR, file);
}

const reported = new Set<string>();

/**
 * Whether every named file of the data folder is missing-free. When one is missing: under CI this
 * throws (the suite must run every test there), elsewhere it prints one line naming the file
 * and returns false, for `describe.skipIf(!hasSharedData(...))`.
 */
export function hasSharedData(...files: string[]): boolean {
  const missing = (files.length === 0 ? [''] : files).map(sharedDataPath).filter((p) => !existsSync(p));
  if (missing.length === 0) return true;
  const message = `real data missing: ${missing.join(', ')} (the tests read ../shared/data in place; set TEST_SHARED_DATA_DIR to a copy of it)`;
  if (process.env.CI === 'true') throw new Error(`${message}; CI runs every test, so this fails here`);
  if (!reported.has(message)) {
    reported.add(message);
    process.stderr.write(`skipped: ${message}\n`);
  }
  return false;
}
