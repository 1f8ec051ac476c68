// Files of the data folder (BITPREDICT_DATA_DIR): where a configured file name points, and its
// first lines for format detection, without reading a whole file.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { BitPredictError } from '../errors.js';

/**
 * `file` is absolute or relative to `dataDir` (itself relative to `cwd`); throws ERR_REPLAY_FILE
 * when there is no such file, naming the path and what sets it: `setting`, the setting or flag
 * that named this file (BITPREDICT_REPLAY_FILE for the candles, a command's argument, ...).
 */
export function resolveDataFile(dataDir: string, file: string, o: { cwd?: string; setting?: string } = {}): string {
  const cwd = o.cwd ?? process.cwd();
  const path = isAbsolute(file) ? file : resolve(cwd, dataDir, file);
  if (!existsSync(path) || !statSync(path).isFile()) {
    const named = o.setting === undefined ? `"${file}"` : `${o.setting} "${file}"`;
    const where = isAbsolute(file) ? `${named}, an absolute path` : `${named} in the data folder BITPREDICT_DATA_DIR "${dataDir}"`;
    throw new BitPredictError('ERR_REPLAY_FILE', `file not found: ${path} (${where}; change ${o.setting ?? 'the file name'} or BITPREDICT_DATA_DIR)`);
  }
  return path;
}

/** The first `bytes` bytes of a file (fewer when it is shorter), without reading the whole file. */
export function headBytes(path: string, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  const fd = openSync(path, 'r');
  let size: number;
  try {
    size = readSync(fd, buf, 0, buf.length, 0);
  } finally {
    closeSync(fd);
  }
  return buf.subarray(0, size);
}

/** The first two lines of the first 4096 characters (up to 4 bytes each), without reading the whole file. */
export function firstLines(path: string): [string, string | undefined] {
  const head = headBytes(path, 4 * 4096)
    .toString('utf8')
    .slice(0, 4096);
  const lines = head.split('\n');
  return [lines[0] ?? '', lines[1]];
}

/**
 * A file named on the command line (`data inspect FILE`, `backtest --candle-file FILE`): absolute,
 * relative to the working directory when it is there (a file just downloaded), else relative to
 * the data folder as the settings are; ERR_REPLAY_FILE naming both places when it is in neither.
 */
export function resolveFileArg(dataDir: string, file: string, cwd = process.cwd()): string {
  if (isAbsolute(file)) return resolveDataFile(dataDir, file, { cwd });
  const here = resolve(cwd, file);
  if (existsSync(here) && statSync(here).isFile()) return here;
  const inData = resolve(cwd, dataDir, file);
  if (existsSync(inData) && statSync(inData).isFile()) return inData;
  throw new BitPredictError(
    'ERR_REPLAY_FILE',
    `candle file not found: neither ${here} nor ${inData} (a relative FILE is looked up in the working directory, then in BITPREDICT_DATA_DIR)`,
  );
}
