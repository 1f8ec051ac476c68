// candle-build: trades/s through the Coinbase trade -> candle builder (event-time watermark,
// grace, dedupe by trade id, order-independent OHLCV) on one core, beside a bare loop computing
// the same OHLCV over the same in-order trades without watermark or dedupe. Alternating rounds
// after one warm-up; medians reported. Goal: >= 200k trades/s.
import { bareOhlcv, createCandleBuilder, type TradeTick } from '../producers/market-data/domain/index.js';
import { median, progress } from './common.js';

const TRADES = Number(process.env.BENCH_TRADES ?? 2_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MIN = 60_000;

/** A random walk at ~25 trades/s (busy BTC-USD), times in ms with ties, as Coinbase delivers them. */
function makeTrades(n: number): TradeTick[] {
  let seed = 42;
  const rnd = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const out: TradeTick[] = new Array<TradeTick>(n);
  let time = Date.UTC(2026, 0, 1);
  let price = 87_950;
  for (let i = 0; i < n; i++) {
    time += Math.floor(rnd() * 80);
    price = Math.max(1, Math.round((price + (rnd() - 0.5) * 4) * 100) / 100);
    out[i] = { tradeId: 1_000_000 + i, time, price, size: Math.round(rnd() * 1e8) / 1e8 };
  }
  return out;
}

export async function run(): Promise<Record<string, unknown>> {
  const trades = makeTrades(TRADES);
  progress(`${TRADES} trades, ${Math.round((trades.at(-1)!.time - trades[0]!.time) / MIN)} minutes`);
  const rates: number[] = [];
  const baseRates: number[] = [];
  let candles = 0;
  let baseCandles = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    const b = createCandleBuilder({ symbol: 'BTCUSD', interval: '1m', exchange: 'coinbase', source: 'bench', graceMs: 2000 });
    candles = 0;
    for (const t of trades) {
      b.add(t);
      candles += b.takeClosed().length;
    }
    const rate = TRADES / (Number(process.hrtime.bigint() - t0) / 1e9);
    const t1 = process.hrtime.bigint();
    baseCandles = 0;
    bareOhlcv(trades, MIN, () => baseCandles++);
    const base = TRADES / (Number(process.hrtime.bigint() - t1) / 1e9);
    progress(`${round === 0 ? 'warm-up' : `round ${round}`}: builder ${rate.toFixed(0)}/s, bare loop ${base.toFixed(0)}/s`);
    await new Promise((r) => setImmediate(r));
    if (round === 0) continue;
    rates.push(rate);
    baseRates.push(base);
  }
  // The builder holds back the last candle (still open); the bare loop emits it.
  if (candles !== baseCandles - 1) throw new Error(`builder made ${candles} candles, baseline ${baseCandles}`);
  const tradesPerS = median(rates);
  const basePerS = median(baseRates);
  return {
    trades: TRADES,
    candles,
    rounds: ROUNDS,
    trades_per_s: Math.round(tradesPerS),
    baseline_trades_per_s: Math.round(basePerS),
    ratio: Number((tradesPerS / basePerS).toFixed(3)),
    goal_trades_per_s: 200_000,
  };
}
