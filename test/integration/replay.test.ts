// The replay producer on bad input, against the real broker and registry: malformed, truncated,
// invalid, future-dated, duplicated and out-of-order rows. Valid rows are published in order with
// their event times; every bad row becomes a DLQ record carrying the raw line, its line number and
// a reason code; a duplicated open time keeps the LAST copy; the final (in-progress) row is dropped.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { runReplay } from '../../producers/replay/service.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { BitPredictError } from '../../core/errors.js';

const H = 3_600_000;
const t = (h: number): string => new Date(Date.UTC(2024, 0, 1) + h * H).toISOString().replace('T', ' ').slice(0, 19);

describe('replay producer with bad rows', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await createTestPlatform('replay');
  });
  afterAll(async () => {
    await tp?.cleanup();
  });

  it('publishes good rows in order and dead-letters every bad one with its raw line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-replay-'));
    const file = join(dir, 'BTCUSDT_1h.csv');
    const future = new Date(Date.now() + 10 * 24 * H).toISOString().replace('T', ' ').slice(0, 14) + '00:00';
    const lines = [
      'timestamp,open,high,low,close,volume',
      `${t(0)},100,110,90,105,1.5`, // 2 good
      `${t(1)},abc,110,90,105,1.5`, // 3 malformed number
      `${t(1)},100,110`, // 4 truncated
      `${t(1)},100,90,110,105,1.5`, // 5 high < low
      `${future},100,110,90,105,1.5`, // 6 future-dated
      `${t(1)},101,111,91,106,2.5`, // 7 good (first copy)
      `${t(1)},102,112,92,107,3.5`, // 8 duplicate open time: this later copy wins
      `${t(2)},103,113,93,108,4.5`, // 9 good
      `${t(0)},100,110,90,105,1.5`, // 10 out of order
      `${t(4)},104,114,94,109,5.5`, // 11 good, after a one-hour gap
      `${t(5)},105,115,95,110,0.1`, // 12 final row of a file the data README lists (BTCUSDT_1h.csv): in progress, dropped and reported
    ];
    writeFileSync(file, lines.join('\n') + '\n');
    const producer = await createProducer(tp.platform.kafka);
    const summary = await runReplay({ platform: tp.platform, config: tp.config, producer, file, symbol: 'BTCUSDT', interval: '1h', rate: 0 });
    await producer.close();
    expect(summary).toMatchObject({
      published: 4,
      deadLettered: 5,
      duplicatesReplaced: 1,
      outOfOrder: 1,
      gaps: 1,
      missingIntervals: 1,
      droppedPartialLastRow: true,
      droppedLastRow: 'dropped the last row, line 12 (open 2024-01-01T05:00:00.000Z): the data README marks it in progress',
    });

    const candles = await tp.readAll('candles');
    expect(candles.map((c) => [c.value?.openTime, c.value?.close, c.timestamp, c.key])).toEqual([
      [Date.UTC(2024, 0, 1, 0), 105, Date.UTC(2024, 0, 1, 1), 'BTCUSDT:1h'],
      [Date.UTC(2024, 0, 1, 1), 107, Date.UTC(2024, 0, 1, 2), 'BTCUSDT:1h'],
      [Date.UTC(2024, 0, 1, 2), 108, Date.UTC(2024, 0, 1, 3), 'BTCUSDT:1h'],
      [Date.UTC(2024, 0, 1, 4), 109, Date.UTC(2024, 0, 1, 5), 'BTCUSDT:1h'],
    ]);
    const dlq = await tp.readAll('dlq');
    expect(dlq.map((d) => [d.value?.offset, d.value?.errorCode, d.value?.value?.toString(), d.value?.sourceKind, d.value?.source])).toEqual([
      [3, 'ERR_REPLAY_MALFORMED_ROW', lines[2], 'file', file],
      [4, 'ERR_REPLAY_MALFORMED_ROW', lines[3], 'file', file],
      [5, 'ERR_VALIDATION', lines[4], 'file', file],
      [6, 'ERR_VALIDATION', lines[5], 'file', file],
      [10, 'ERR_VALIDATION', lines[9], 'file', file],
    ]);
    expect(dlq[3]?.value?.errorMessage).toMatch(/future/);
  });

  it('replays headerless Binance klines in place and drops, reports and logs a last candle that closes after now', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-replay-'));
    const file = join(dir, 'SOLUSDT-1h-2024-01.csv');
    const kline = (h: number) => `${Date.UTC(2024, 0, 1, h)},100,110,90,105,1.5,${Date.UTC(2024, 0, 1, h + 1) - 1},150,12,0.7,70,0`;
    writeFileSync(file, [0, 1, 2, 3].map(kline).join('\n') + '\n');
    const producer = await createProducer(tp.platform.kafka);
    // 03:20: the 03:00 candle (the last row) closes at 04:00, after now.
    const now = () => Date.UTC(2024, 0, 1, 3, 20);
    const summary = await runReplay({ platform: tp.platform, config: tp.config, producer, file, symbol: 'SOLUSDT', interval: '1h', rate: 0, now });
    await producer.close();
    expect(summary).toMatchObject({
      format: 'binance-kline-csv',
      published: 3,
      deadLettered: 0,
      droppedPartialLastRow: true,
      droppedLastRow:
        'dropped the last row, line 4 (open 2024-01-01T03:00:00.000Z): the candle had not closed: its close time 2024-01-01T04:00:00.000Z is after now (2024-01-01T03:20:00.000Z)',
    });
    const candles = (await tp.readAll('candles')).filter((c) => c.key === 'SOLUSDT:1h');
    expect(candles.map((c) => [c.value?.openTime, c.value?.quoteVolume, c.value?.tradeCount])).toEqual(
      [0, 1, 2].map((h) => [Date.UTC(2024, 0, 1, h), 150, 12]),
    );
  });

  it('reports a missing file as ERR_REPLAY_FILE before publishing anything', async () => {
    const producer = await createProducer(tp.platform.kafka);
    await expect(
      runReplay({ platform: tp.platform, config: tp.config, producer, file: 'no/such/file.csv', symbol: 'BTCUSDT', interval: '1h', rate: 0 }),
    ).rejects.toThrowError(BitPredictError);
    await expect(
      runReplay({ platform: tp.platform, config: tp.config, producer, file: 'no/such/file.csv', symbol: 'BTCUSDT', interval: '1h', rate: 0 }),
    ).rejects.toMatchObject({ code: 'ERR_REPLAY_FILE' });
    await producer.close();
  });

  it('waits out Kafka being away: the batch is sent again until the broker takes it; other producer errors end the replay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-replay-'));
    const file = join(dir, 'ETHUSDT_1h.csv');
    writeFileSync(file, ['timestamp,open,high,low,close,volume', ...Array.from({ length: 7 }, (_, h) => `${t(h)},100,110,90,105,1.5`)].join('\n') + '\n');
    const real = await createProducer(tp.platform.kafka);
    // The real producer, with the failures a broker outage gives (the client's own retries spent):
    // the first try reaches the broker and then fails (its records land, a retry doubles them), the
    // second never reaches it.
    let tries = 0;
    const outage: Producer = {
      async send(records) {
        tries++;
        if (tries === 1) await real.send(records);
        if (tries <= 2) throw new BitPredictError('ERR_KAFKA_UNREACHABLE', 'no Kafka broker answered at 127.0.0.1:9092');
        await real.send(records);
      },
      close: () => real.close(),
    };
    const summary = await runReplay({ platform: tp.platform, config: tp.config, producer: outage, file, symbol: 'ETHUSDT', interval: '1h', rate: 0 });
    expect(tries).toBe(3);
    // A file the data README does not list keeps its last row: that candle closed long ago.
    expect(summary).toMatchObject({ published: 7, droppedLastRow: null });
    // Every candle lands; those of the try that failed after reaching the broker twice (the
    // processors skip a candle they have).
    const openTimes = (await tp.readAll('candles')).filter((c) => c.key === 'ETHUSDT:1h').map((c) => c.value?.openTime);
    expect([...new Set(openTimes)]).toEqual(Array.from({ length: 7 }, (_, h) => Date.UTC(2024, 0, 1, h)));
    expect(openTimes).toHaveLength(14);

    const refused: Producer = {
      send: async () => {
        throw new BitPredictError('ERR_KAFKA_ACL', 'the Kafka broker refused access to a topic');
      },
      close: async () => undefined,
    };
    await expect(
      runReplay({ platform: tp.platform, config: tp.config, producer: refused, file, symbol: 'ETHUSDT', interval: '1h', rate: 0 }),
    ).rejects.toMatchObject({
      code: 'ERR_KAFKA_ACL',
    });
    await real.close();
  });
});
