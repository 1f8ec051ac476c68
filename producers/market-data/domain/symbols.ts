// Symbol mapping between BitPredict's form (BTCUSDT) and each exchange. Two exchanges' candles of
// one configured symbol must never share a Kafka key (the indicator processor keys its series by
// symbol:interval and would interleave two price series), so each exchange publishes under its own
// symbol: Binance keeps the configured symbol (BTCUSDT), Coinbase publishes its product without
// the dash (BTC-USD -> BTCUSD). The candle's `exchange` field names the source as well.
export const EXCHANGES = ['binance', 'coinbase'] as const;
export type Exchange = (typeof EXCHANGES)[number];

export function isExchange(name: string): name is Exchange {
  return (EXCHANGES as readonly string[]).includes(name);
}

const QUOTES = ['USDT', 'USDC', 'USD', 'EUR', 'BTC'] as const;

/** Base and quote of a BitPredict symbol; null when no known quote currency ends it. */
export function splitSymbol(symbol: string): { base: string; quote: string } | null {
  const s = symbol.toUpperCase();
  for (const q of QUOTES) {
    if (s.length > q.length && s.endsWith(q)) return { base: s.slice(0, -q.length), quote: q };
  }
  return null;
}

/** Binance stream name prefix: BTCUSDT -> btcusdt. */
export function binanceStreamSymbol(symbol: string): string {
  return symbol.toLowerCase();
}

/**
 * Coinbase Exchange product of a BitPredict symbol. Coinbase quotes BTC in USD rather than USDT,
 * so BTCUSDT maps to BTC-USD (a documented approximation: USDT trades close to, not at, 1 USD).
 */
export function coinbaseProduct(symbol: string): string | null {
  const parts = splitSymbol(symbol);
  if (!parts) return null;
  const quote = parts.quote === 'USDT' ? 'USD' : parts.quote;
  return `${parts.base}-${quote}`;
}

/** The symbol Coinbase candles are published under: BTC-USD -> BTCUSD. */
export function coinbasePublishedSymbol(product: string): string {
  return product.replace('-', '').toUpperCase();
}
