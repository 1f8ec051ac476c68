// The demo's data checks, before anything starts: each missing or unreadable file is one error
// naming the file and the setting or flag that fixes it. (The fetch path, with no data folder,
// runs against the local mock exchange in test/integration/demo-fetch.test.ts.)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.js';
import { TEXT_DATA_FILES } from '../core/data/text/index.js';
import { prepareDemoData, shouldFetch, type DemoDataOptions } from './demo-data.js';
import { fetchForDemo } from './demo-fetch.js';

const CANDLES = 'prices/BTCUSDT_1h.csv';

function folder(o: { candles?: string | null; texts?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'demo-data-'));
  mkdirSync(join(dir, 'prices'));
  if (o.candles !== null) writeFileSync(join(dir, CANDLES), o.candles ?? 'timestamp,open,high,low,close,volume\n2024-01-01 00:00:00,1,2,0.5,1.5,10\n');
  if (o.texts !== false) {
    for (const f of TEXT_DATA_FILES) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), 'x\n');
    }
  }
  return dir;
}

function options(env: Record<string, string>, over: Partial<DemoDataOptions> = {}): DemoDataOptions {
  const lines: string[] = [];
  return {
    config: loadConfig(env),
    env,
    cwd: process.cwd(),
    fetch: false,
    fetchDays: 365,
    fetchFile: undefined,
    textFiles: [],
    noTexts: false,
    now: Date.now(),
    signal: new AbortController().signal,
    say: (l) => lines.push(l),
    fetchCandles: () => Promise.reject(new Error('this test does not fetch')),
    ...over,
  };
}

describe('demo data checks', () => {
  it('takes the candle file and every text file of the data folder', async () => {
    const dir = folder();
    const data = await prepareDemoData(options({ BITPREDICT_DATA_DIR: dir, BITPREDICT_REPLAY_FILE: CANDLES }));
    expect(data.candleFile).toBe(join(dir, CANDLES));
    expect(data.textFiles).toEqual(TEXT_DATA_FILES.map((f) => join(dir, f)));
    expect(data.fetched).toBeNull();
  });

  it('a configured data folder that does not exist: names it and the setting, never fetches', async () => {
    const env = { BITPREDICT_DATA_DIR: '/nonexistent/bp-data' };
    expect(shouldFetch({ ...options(env), fetch: false })).toBe(false);
    await expect(prepareDemoData(options(env))).rejects.toThrow(
      /data folder not found: \/nonexistent\/bp-data: set BITPREDICT_DATA_DIR=\/nonexistent\/bp-data/,
    );
  });

  it('a missing candle file: names the exact path and BITPREDICT_REPLAY_FILE', async () => {
    const dir = folder({ candles: null });
    await expect(prepareDemoData(options({ BITPREDICT_DATA_DIR: dir, BITPREDICT_REPLAY_FILE: CANDLES }))).rejects.toThrow(
      `candle file not found: ${join(dir, CANDLES)}: set BITPREDICT_REPLAY_FILE (now "${CANDLES}"`,
    );
  });

  it('a candle file of an unknown layout: fails before anything starts, naming the file and the setting', async () => {
    const dir = folder({ candles: 'when,price\n1,2\n' });
    await expect(prepareDemoData(options({ BITPREDICT_DATA_DIR: dir, BITPREDICT_REPLAY_FILE: CANDLES }))).rejects.toThrow(
      /BTCUSDT_1h\.csv.*the demo's candle file, set by BITPREDICT_REPLAY_FILE/,
    );
  });

  it('checks the layout as the replay reads it: a file named by BITPREDICT_REPLAY_COLUMNS passes', async () => {
    const dir = folder({ candles: 'bar_start,o,h,l,c,base_qty\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n' });
    const env = { BITPREDICT_DATA_DIR: dir, BITPREDICT_REPLAY_FILE: CANDLES };
    await expect(prepareDemoData(options(env))).rejects.toThrow(/the demo's candle file, set by BITPREDICT_REPLAY_FILE/);
    const columns = { ...env, BITPREDICT_REPLAY_COLUMNS: 'time=bar_start,open=o,high=h,low=l,close=c,volume=base_qty' };
    expect((await prepareDemoData(options(columns))).candleFile).toBe(join(dir, CANDLES));
  });

  it('a missing text file: names it and the three ways out; --no-texts replays none', async () => {
    const dir = folder({ texts: false });
    const env = { BITPREDICT_DATA_DIR: dir, BITPREDICT_REPLAY_FILE: CANDLES };
    await expect(prepareDemoData(options(env))).rejects.toThrow(
      `text file not found: ${join(dir, TEXT_DATA_FILES[0]!)}: the demo replays the data folder's texts; set BITPREDICT_DATA_DIR to the folder that holds them, pass --text-file FILE for your own, or --no-texts`,
    );
    expect((await prepareDemoData(options(env, { noTexts: true }))).textFiles).toEqual([]);
  });

  it('--text-file replaces the data folder texts; a missing one is named with its flag', async () => {
    const dir = folder({ texts: false });
    const env = { BITPREDICT_DATA_DIR: dir, BITPREDICT_REPLAY_FILE: CANDLES };
    const mine = join(dir, 'mine.csv');
    writeFileSync(mine, 'time,text\n2024-01-01T00:00:00Z,hello\n');
    expect((await prepareDemoData(options(env, { textFiles: [mine] }))).textFiles).toEqual([mine]);
    await expect(prepareDemoData(options(env, { textFiles: [mine, 'no-such.csv'] }))).rejects.toThrow(
      `text file not found: ${join(process.cwd(), 'no-such.csv')} (given by --text-file no-such.csv)`,
    );
  });

  it('fetches when asked, or when no data folder is configured and the default is absent', () => {
    expect(shouldFetch({ ...options({}), cwd: mkdtempSync(join(tmpdir(), 'bare-clone-')) })).toBe(true);
    expect(shouldFetch({ ...options({ BITPREDICT_REPLAY_FILE: '/x.csv' }), cwd: mkdtempSync(join(tmpdir(), 'bare-clone-')) })).toBe(false);
    expect(shouldFetch({ ...options({ BITPREDICT_DATA_DIR: folder() }), fetch: true })).toBe(true);
  });

  it('a failed fetch names the REST URL and the settings that fix it (nothing listens on the port)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'bare-clone-'));
    const env = { BITPREDICT_BINANCE_REST_URL: 'http://127.0.0.1:1' };
    await expect(prepareDemoData({ ...options(env), env: {}, cwd, fetchCandles: fetchForDemo })).rejects.toThrow(
      /^fetching candles from http:\/\/127\.0\.0\.1:1 failed: .+; set BITPREDICT_DATA_DIR .* or BITPREDICT_BINANCE_REST_URL to a reachable Binance REST API$/,
    );
  }, 30_000);
});
