// What `npm run demo` replays, settled before anything starts: no stack, topic or banner until
// every file the demo will read exists and has a layout the loader knows. Each error names the
// exact file and the exact setting or flag that fixes it.
//
// Where the candles come from:
// - the data folder (BITPREDICT_DATA_DIR, default ../shared/data) and BITPREDICT_REPLAY_FILE in
//   it, as always: the full history;
// - fetched from the exchange's public REST API (Binance by default; `bitpredict data fetch`
//   does the same by hand) into a local file, when the data folder is not configured and the
//   default one does not exist (a clone from GitHub has no ../shared), or when --fetch is given.
//   The fetch is resumable: a second demo continues the file instead of starting over.
// Texts come from the data folder (every real text file) or --text-file; without a data folder
// the demo runs without texts and says that the sentiment features are zero.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Config } from '../core/config.js';
import { BitPredictError, errorMessage } from '../core/errors.js';
import { candleFileLayout } from '../core/data/load.js';
import { TEXT_DATA_FILES } from '../core/data/text/index.js';

const DAY = 86_400_000;

/** What a candle fetch reports; the demo needs its file and range. */
export interface FetchedCandles {
  file: string;
  rows: number;
  first: number | null;
  last: number | null;
  gaps: number;
}

export type FetchCandles = (o: {
  exchange: 'binance';
  symbol: string;
  interval: string;
  from: number;
  to: number;
  out: string;
  restUrl: string;
  signal: AbortSignal;
  onProgress: (line: string) => void;
}) => Promise<FetchedCandles>;

export interface DemoDataOptions {
  config: Config;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** --fetch: candles from the exchange even when a data folder exists. */
  fetch: boolean;
  /** --fetch-days: how much history to fetch. */
  fetchDays: number;
  /** --fetch-file: where the fetched candles go (relative to cwd). */
  fetchFile: string | undefined;
  /** --text-file (relative to cwd); empty: the data folder's texts. */
  textFiles: readonly string[];
  noTexts: boolean;
  now: number;
  signal: AbortSignal;
  say: (line: string) => void;
  fetchCandles: FetchCandles;
}

export interface DemoData {
  /** Absolute path of the candle file to replay. */
  candleFile: string;
  /** Absolute paths of the text files to replay, in order. */
  textFiles: string[];
  /** Set when the candles were fetched: their range, for --live-from. */
  fetched: FetchedCandles | null;
}

/** Whether the demo fetches: asked for, or no data folder configured and the default one absent. */
export function shouldFetch(o: Pick<DemoDataOptions, 'config' | 'env' | 'cwd' | 'fetch'>): boolean {
  if (o.fetch) return true;
  if (o.env.BITPREDICT_DATA_DIR !== undefined || o.env.BITPREDICT_REPLAY_FILE !== undefined) return false;
  return !existsSync(resolve(o.cwd, o.config.data.dir));
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/** The layout of a candle file as the replay will read it (with BITPREDICT_REPLAY_COLUMNS), or ERR_REPLAY_FILE naming the file and the setting. */
function checkCandleLayout(path: string, setting: string, columns: string | undefined): void {
  try {
    candleFileLayout(path, columns);
  } catch (err) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `${errorMessage(err)} (the demo's candle file, set by ${setting}; \`bitpredict data inspect FILE\` tells what a file holds)`,
    );
  }
}

function folderCandles(o: DemoDataOptions): string {
  const { config, cwd } = o;
  const dir = resolve(cwd, config.data.dir);
  const dirSetting = `BITPREDICT_DATA_DIR${o.env.BITPREDICT_DATA_DIR === undefined ? ' (default ../shared/data)' : `=${o.env.BITPREDICT_DATA_DIR}`}`;
  if (!existsSync(dir)) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `data folder not found: ${dir}: set ${dirSetting.replace(/ \(default.*\)$/, '')} to the folder with the data sets, or run \`npm run demo -- --fetch\` to replay candles fetched from Binance`,
    );
  }
  const path = resolve(dir, config.replay.file);
  if (!isFile(path)) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `candle file not found: ${path}: set BITPREDICT_REPLAY_FILE (now "${config.replay.file}", relative to ${dirSetting}) to a candle file, or BITPREDICT_DATA_DIR to the folder that holds it`,
    );
  }
  checkCandleLayout(path, 'BITPREDICT_REPLAY_FILE', config.replay.columns);
  return path;
}

/** The text files to replay, each checked; `say` gets the line that explains an empty list (the fetch path says it after its own lines). */
function texts(o: DemoDataOptions, fetched: boolean, say: (line: string) => void = o.say): string[] {
  if (o.noTexts) {
    say('no texts (--no-texts): every sentiment feature is zero');
    return [];
  }
  if (o.textFiles.length > 0) {
    return o.textFiles.map((f) => {
      const path = resolve(o.cwd, f);
      if (!isFile(path)) throw new BitPredictError('ERR_REPLAY_FILE', `text file not found: ${path} (given by --text-file ${f})`);
      return path;
    });
  }
  const dir = resolve(o.cwd, o.config.data.dir);
  const paths = TEXT_DATA_FILES.map((f) => resolve(dir, f));
  if (fetched) {
    const present = paths.filter(isFile);
    if (present.length === 0) say('no texts: no data folder holds them, so every sentiment feature is zero (--text-file FILE replays your own)');
    return present;
  }
  for (const path of paths) {
    if (!isFile(path)) {
      throw new BitPredictError(
        'ERR_REPLAY_FILE',
        `text file not found: ${path}: the demo replays the data folder's texts; set BITPREDICT_DATA_DIR to the folder that holds them, pass --text-file FILE for your own, or --no-texts`,
      );
    }
  }
  return paths;
}

/** Every file the demo reads, checked (and the candles fetched when there is no data folder). */
export async function prepareDemoData(o: DemoDataOptions): Promise<DemoData> {
  if (!shouldFetch(o)) {
    const candleFile = folderCandles(o);
    return { candleFile, textFiles: texts(o, false), fetched: null };
  }
  const notes: string[] = [];
  const textFiles = texts(o, true, (line) => notes.push(line));
  const { config } = o;
  const symbol = config.replay.symbol;
  const interval = config.replay.interval;
  const out = resolve(o.cwd, o.fetchFile ?? `data/binance-${symbol}-${interval}.csv`);
  const restUrl = config.market.binance.restUrl;
  const why = o.fetch ? '--fetch' : `no data folder (${resolve(o.cwd, config.data.dir)} not found, BITPREDICT_DATA_DIR not set)`;
  o.say(
    `${why}: fetching the last ${o.fetchDays} days of ${symbol} ${interval} candles from ${restUrl} into ${out} (resumable; BITPREDICT_DATA_DIR replays a full history instead)`,
  );
  let fetched: FetchedCandles;
  try {
    fetched = await o.fetchCandles({
      exchange: 'binance',
      symbol,
      interval,
      from: o.now - o.fetchDays * DAY,
      to: o.now,
      out,
      restUrl,
      signal: o.signal,
      onProgress: o.say,
    });
  } catch (err) {
    if (o.signal.aborted) throw err;
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `fetching candles from ${restUrl} failed: ${errorMessage(err)}; set BITPREDICT_DATA_DIR to a folder with the data sets (BITPREDICT_REPLAY_FILE names the candle file in it), or BITPREDICT_BINANCE_REST_URL to a reachable Binance REST API`,
    );
  }
  if (fetched.rows === 0 || fetched.last === null) {
    throw new BitPredictError(
      'ERR_REPLAY_FILE',
      `fetching candles from ${restUrl} gave no candle of ${symbol} ${interval} in the last ${o.fetchDays} days (${out})`,
    );
  }
  checkCandleLayout(out, '--fetch-file', undefined);
  for (const line of notes) o.say(line);
  return { candleFile: out, textFiles, fetched };
}
