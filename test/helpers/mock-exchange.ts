// A local stand-in for Binance and Coinbase Exchange on 127.0.0.1 (node:http + ws), speaking their
// real formats: Binance combined streams (/binance/stream?streams=...) and GET /api/v3/klines;
// the Coinbase Exchange feed (subscribe message, matches + heartbeat channels) and
// GET /products/<id>/candles (rows [time_s, low, high, open, close, volume], newest first, at most
// 300). Tests script the history the REST endpoints serve, push frames, and misbehave on demand:
// drop sockets, go silent, answer 429/5xx, send malformed frames.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { bareOhlcv, type TradeTick } from '../../producers/market-data/domain/index.js';
import { intervalMs } from '../../core/domain/intervals.js';

export type MockExchangeName = 'binance' | 'coinbase';

export interface MockKline {
  openTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quoteVolume: number;
  trades: number;
}

export interface MockFailure {
  status: number;
  retryAfter?: string;
  body?: string;
}

export interface MockExchange {
  binanceWsUrl: string;
  binanceRestUrl: string;
  coinbaseWsUrl: string;
  coinbaseRestUrl: string;
  /** REST history of Binance klines by `SYMBOL:interval`, oldest first. */
  binanceKlines: Map<string, MockKline[]>;
  /** Every trade of a Coinbase product; REST candles are computed from it. */
  coinbaseTrades: Map<string, TradeTick[]>;
  /** Sends to every open Binance socket (an object is JSON-encoded, a string or Buffer goes as is). */
  sendBinance(frame: unknown): void;
  /** Sends to every Coinbase socket that has subscribed. */
  sendCoinbase(frame: unknown): void;
  /** Terminates every socket of the exchange (as a network drop or Binance's 24 h disconnect). */
  drop(exchange: MockExchangeName): void;
  /** While silent, nothing is sent on the exchange's sockets (frames are discarded). */
  silence(exchange: MockExchangeName, silent: boolean): void;
  /**
   * Half-opens every open socket of the exchange: the server stops reading (no pong, no close
   * handshake) and sending on it, and never closes it, as when the peer vanishes without a FIN.
   * Only the client's own timeout can notice; new connections work normally.
   */
  halfOpen(exchange: MockExchangeName): void;
  /** The next REST requests of the exchange get these answers, in order. */
  failNext(exchange: MockExchangeName, ...failures: MockFailure[]): void;
  /**
   * The next successful REST answers of the exchange pass their rows (in the exchange's order:
   * Coinbase newest first) through these functions, in order: to serve malformed, duplicated,
   * overlapping, out-of-order or unfinished rows as a misbehaving exchange would.
   */
  rewriteNext(exchange: MockExchangeName, ...rewrites: ((rows: unknown[]) => unknown[])[]): void;
  readonly requests: { exchange: MockExchangeName; url: string; status: number }[];
  /** Sockets accepted so far (Coinbase: subscribed). */
  connections(exchange: MockExchangeName): number;
  open(exchange: MockExchangeName): number;
  waitForConnections(exchange: MockExchangeName, n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A kline as GET /api/v3/klines sends it: 12 fields, prices as strings, close time inclusive. */
export function binanceRestRow(k: MockKline, lenMs: number): unknown[] {
  return [
    k.openTime,
    k.open.toFixed(8),
    k.high.toFixed(8),
    k.low.toFixed(8),
    k.close.toFixed(8),
    k.volume.toFixed(8),
    k.openTime + lenMs - 1,
    k.quoteVolume.toFixed(8),
    k.trades,
    '0',
    '0',
    '0',
  ];
}

export function binanceKlineFrame(symbol: string, interval: string, k: MockKline, closed: boolean, eventTime = Date.now()): unknown {
  return {
    stream: `${symbol.toLowerCase()}@kline_${interval}`,
    data: {
      e: 'kline',
      E: eventTime,
      s: symbol,
      k: {
        t: k.openTime,
        T: k.openTime + intervalMs(interval) - 1,
        s: symbol,
        i: interval,
        f: 1,
        L: k.trades,
        o: k.open.toFixed(8),
        c: k.close.toFixed(8),
        h: k.high.toFixed(8),
        l: k.low.toFixed(8),
        v: k.volume.toFixed(8),
        n: k.trades,
        x: closed,
        q: k.quoteVolume.toFixed(8),
        V: '0',
        Q: '0',
        B: '0',
      },
    },
  };
}

export function binanceTradeFrame(symbol: string, t: TradeTick): unknown {
  return {
    stream: `${symbol.toLowerCase()}@trade`,
    data: { e: 'trade', E: t.time + 1, s: symbol, t: t.tradeId, p: t.price.toFixed(8), q: t.size.toFixed(8), T: t.time, m: true, M: true },
  };
}

export function coinbaseMatchFrame(product: string, t: TradeTick): unknown {
  return {
    type: 'match',
    trade_id: t.tradeId,
    maker_order_id: 'ac928c66-ca53-498f-9c13-a110027a60e8',
    taker_order_id: '132fb6ae-456b-4654-b4e0-d681ac05cea1',
    side: 'buy',
    size: String(t.size),
    price: String(t.price),
    product_id: product,
    sequence: t.tradeId * 10,
    time: new Date(t.time).toISOString().replace('Z', '123Z'),
  };
}

export function coinbaseHeartbeatFrame(product: string, time: number, lastTradeId = 0): unknown {
  return { type: 'heartbeat', last_trade_id: lastTradeId, product_id: product, sequence: 1, time: new Date(time).toISOString() };
}

/** Candles as Coinbase REST computes them: trades deduped by id, ordered by (time, id), empty intervals absent. */
export function coinbaseCandlesFromTrades(
  trades: readonly TradeTick[],
  lenMs: number,
): { openTime: number; open: number; high: number; low: number; close: number; volume: number }[] {
  const unique = [...new Map(trades.map((t) => [t.tradeId, t])).values()].sort((a, b) => a.time - b.time || a.tradeId - b.tradeId);
  const out: { openTime: number; open: number; high: number; low: number; close: number; volume: number }[] = [];
  bareOhlcv(unique, lenMs, (openTime, open, high, low, close, volume) => out.push({ openTime, open, high, low, close, volume }));
  return out;
}

export async function startMockExchange(): Promise<MockExchange> {
  const binanceKlines = new Map<string, MockKline[]>();
  const coinbaseTrades = new Map<string, TradeTick[]>();
  const sockets: Record<MockExchangeName, Set<WebSocket>> = { binance: new Set(), coinbase: new Set() };
  // The TCP socket under each WebSocket (halfOpen pauses it) and the half-open ones, closed at close().
  const raw = new Map<WebSocket, Duplex>();
  const stalled = new Set<WebSocket>();
  const accepted: Record<MockExchangeName, number> = { binance: 0, coinbase: 0 };
  const silent: Record<MockExchangeName, boolean> = { binance: false, coinbase: false };
  const failures: Record<MockExchangeName, MockFailure[]> = { binance: [], coinbase: [] };
  const rewrites: Record<MockExchangeName, ((rows: unknown[]) => unknown[])[]> = { binance: [], coinbase: [] };
  const rewritten = (exchange: MockExchangeName, rows: unknown[]): unknown[] => {
    const f = rewrites[exchange].shift();
    return f ? f(rows) : rows;
  };
  const requests: { exchange: MockExchangeName; url: string; status: number }[] = [];

  const reply = (res: ServerResponse, exchange: MockExchangeName, url: string, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    requests.push({ exchange, url, status });
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  function binanceRest(url: URL, res: ServerResponse): void {
    const symbol = url.searchParams.get('symbol');
    const interval = url.searchParams.get('interval');
    const start = Number(url.searchParams.get('startTime'));
    const end = Number(url.searchParams.get('endTime') ?? Number.MAX_SAFE_INTEGER);
    const limit = Math.min(1000, Number(url.searchParams.get('limit') ?? 500));
    if (!symbol || !interval || !Number.isFinite(start)) {
      reply(res, 'binance', url.href, 400, { code: -1102, msg: 'Mandatory parameter was not sent, was empty/null, or malformed.' });
      return;
    }
    const len = intervalMs(interval);
    const rows = (binanceKlines.get(`${symbol}:${interval}`) ?? [])
      .filter((k) => k.openTime >= start && k.openTime <= end)
      .slice(0, limit)
      .map((k) => binanceRestRow(k, len));
    reply(res, 'binance', url.href, 200, rewritten('binance', rows));
  }

  function coinbaseRest(url: URL, product: string, res: ServerResponse): void {
    const granularity = Number(url.searchParams.get('granularity'));
    const start = Date.parse(url.searchParams.get('start') ?? '');
    const end = Date.parse(url.searchParams.get('end') ?? '');
    if (![60, 300, 900, 3600, 21600, 86400].includes(granularity) || Number.isNaN(start) || Number.isNaN(end)) {
      reply(res, 'coinbase', url.href, 400, { message: 'Unsupported granularity' });
      return;
    }
    if ((end - start) / (granularity * 1000) > 300) {
      reply(res, 'coinbase', url.href, 400, { message: 'granularity too small for the requested time range. Count of aggregations requested exceeds 300' });
      return;
    }
    const rows = coinbaseCandlesFromTrades(coinbaseTrades.get(product) ?? [], granularity * 1000)
      .filter((c) => c.openTime >= start && c.openTime <= end)
      .reverse()
      .map((c) => [c.openTime / 1000, c.low, c.high, c.open, c.close, c.volume]);
    reply(res, 'coinbase', url.href, 200, rewritten('coinbase', rows));
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const exchange: MockExchangeName | null = url.pathname.startsWith('/binance/') ? 'binance' : url.pathname.startsWith('/coinbase/') ? 'coinbase' : null;
    if (!exchange) {
      res.writeHead(404).end();
      return;
    }
    const failure = failures[exchange].shift();
    if (failure) {
      reply(
        res,
        exchange,
        url.href,
        failure.status,
        failure.body ?? { message: `mock failure ${failure.status}` },
        failure.retryAfter === undefined ? {} : { 'retry-after': failure.retryAfter },
      );
      return;
    }
    if (exchange === 'binance' && url.pathname === '/binance/api/v3/klines') return binanceRest(url, res);
    const m = /^\/coinbase\/products\/([A-Z0-9]+-[A-Z0-9]+)\/candles$/.exec(url.pathname);
    if (exchange === 'coinbase' && m?.[1]) return coinbaseRest(url, m[1], res);
    reply(res, exchange, url.href, 404, { message: 'NotFound' });
  });

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const exchange: MockExchangeName | null = url.pathname === '/binance/stream' ? 'binance' : url.pathname === '/coinbase' ? 'coinbase' : null;
    if (!exchange || (exchange === 'binance' && !url.searchParams.get('streams'))) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      raw.set(ws, socket);
      ws.on('close', () => {
        sockets[exchange].delete(ws);
        raw.delete(ws);
      });
      if (exchange === 'binance') {
        sockets.binance.add(ws);
        accepted.binance++;
        return;
      }
      ws.on('message', (data: Buffer) => {
        let msg: { type?: string; product_ids?: string[]; channels?: string[] } = {};
        try {
          msg = JSON.parse(data.toString('utf8')) as typeof msg;
        } catch {
          ws.send(JSON.stringify({ type: 'error', message: 'Failed to subscribe', reason: 'malformed JSON' }));
          return;
        }
        if (msg.type !== 'subscribe' || !Array.isArray(msg.product_ids)) {
          ws.send(JSON.stringify({ type: 'error', message: 'Failed to subscribe', reason: 'type must be subscribe' }));
          return;
        }
        ws.send(JSON.stringify({ type: 'subscriptions', channels: (msg.channels ?? []).map((name) => ({ name, product_ids: msg.product_ids })) }));
        sockets.coinbase.add(ws);
        accepted.coinbase++;
      });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `127.0.0.1:${port}`;
  const send = (exchange: MockExchangeName, frame: unknown): void => {
    if (silent[exchange]) return;
    const data = typeof frame === 'string' || Buffer.isBuffer(frame) ? frame : JSON.stringify(frame);
    for (const ws of sockets[exchange]) ws.send(data);
  };

  return {
    binanceWsUrl: `ws://${base}/binance`,
    binanceRestUrl: `http://${base}/binance`,
    coinbaseWsUrl: `ws://${base}/coinbase`,
    coinbaseRestUrl: `http://${base}/coinbase`,
    binanceKlines,
    coinbaseTrades,
    sendBinance: (frame) => send('binance', frame),
    sendCoinbase: (frame) => send('coinbase', frame),
    drop(exchange) {
      for (const ws of sockets[exchange]) ws.terminate();
      sockets[exchange].clear();
    },
    silence(exchange, value) {
      silent[exchange] = value;
    },
    halfOpen(exchange) {
      for (const ws of sockets[exchange]) {
        raw.get(ws)?.pause();
        stalled.add(ws);
      }
      sockets[exchange].clear();
    },
    failNext(exchange, ...f) {
      failures[exchange].push(...f);
    },
    rewriteNext(exchange, ...f) {
      rewrites[exchange].push(...f);
    },
    requests,
    connections: (exchange) => accepted[exchange],
    open: (exchange) => sockets[exchange].size,
    async waitForConnections(exchange, n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (accepted[exchange] < n) {
        if (Date.now() > deadline) throw new Error(`mock ${exchange}: ${accepted[exchange]} of ${n} connections after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const set of [...Object.values(sockets), stalled]) for (const ws of set) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
