// Seeded fuzz inputs for the chaos fuzz scenario: bad Kafka record values for each input topic,
// HTTP requests over every route of the gateway's OpenAPI document, and WebSocket frames. Every
// generator takes the scenario's PRNG, so a failing run is repeated by its seed.
import { request } from 'node:http';
import WebSocket from 'ws';
import type { Serde } from '../../core/serde/serde.js';
import { candle } from '../helpers/candles.js';
import { bareFeature, scoredText } from '../helpers/features.js';
import { prediction } from '../helpers/ws-client.js';

type Rand = () => number;

const int = (rand: Rand, n: number): number => Math.floor(rand() * n);
const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[int(rand, xs.length)] as T;
const bytes = (rand: Rand, n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(rand, 256)));

export const FUZZ_TOPICS = ['candles', 'textRaw', 'textScored', 'features', 'predictions'] as const;
export type FuzzTopic = (typeof FUZZ_TOPICS)[number];

/** A valid value of the topic, to be broken. */
function validValue(serde: Serde, topic: FuzzTopic, i: number): Buffer {
  const t = Date.UTC(2024, 0, 1) + i * 3_600_000;
  switch (topic) {
    case 'candles':
      return serde.encode('candles', candle(t));
    case 'textRaw':
      return serde.encode('textRaw', {
        id: `fz${i}`,
        source: 'fuzz',
        sourceId: String(i),
        kind: 'tweet',
        publishedAt: t,
        title: null,
        text: 'bitcoin',
        url: null,
        author: null,
        ingestedAt: t,
      });
    case 'textScored':
      return serde.encode('textScored', scoredText(`fz${i}`, t, 0.5));
    case 'features':
      return serde.encode('features', bareFeature('1h', t));
    case 'predictions':
      return serde.encode('predictions', prediction(i));
  }
}

export interface BadRecord {
  kind: string;
  key: string | null;
  value: Buffer | null;
  /** Whether the bytes cannot be decoded at all (the gateway counts those as skipped). */
  undecodable: boolean;
}

/**
 * One bad value for `topic`: random bytes, a wire-format header with an unknown schema id,
 * a valid record cut short, an empty value, a tombstone, or (candles and text items) a record
 * that decodes but breaks a domain rule.
 */
export function badRecord(rand: Rand, serde: Serde, topic: FuzzTopic, i: number): BadRecord {
  const key = rand() < 0.2 ? null : rand() < 0.5 ? 'BTCUSDT:1h' : bytes(rand, int(rand, 40)).toString('latin1');
  const kinds = ['random', 'unknown-schema', 'truncated', 'empty', 'tombstone', ...(topic === 'candles' || topic === 'textRaw' ? ['invalid'] : [])];
  const kind = pick(rand, kinds);
  switch (kind) {
    case 'random': {
      // Never the wire format's magic byte: a random schema id is its own case below.
      const b = bytes(rand, 1 + int(rand, 2048));
      if (b[0] === 0) b[0] = 1;
      return { kind, key, value: b, undecodable: true };
    }
    case 'unknown-schema': {
      const b = Buffer.concat([Buffer.from([0]), Buffer.from([0x7f, int(rand, 256), int(rand, 256), int(rand, 256)]), bytes(rand, int(rand, 200))]);
      return { kind, key, value: b, undecodable: true };
    }
    case 'truncated': {
      const v = validValue(serde, topic, i);
      return { kind, key, value: v.subarray(0, 5 + int(rand, Math.max(1, v.length - 6))), undecodable: true };
    }
    case 'empty':
      return { kind, key, value: Buffer.alloc(0), undecodable: true };
    case 'tombstone':
      return { kind, key, value: null, undecodable: true };
    default: {
      const t = Date.UTC(2024, 0, 1) + i * 3_600_000;
      const value =
        topic === 'candles'
          ? serde.encode('candles', candle(t, 30_000, pick(rand, [{ high: 1, low: 2 }, { open: -5 }, { openTime: Date.now() + 30 * 86_400_000 }])))
          : serde.encode('textRaw', {
              id: rand() < 0.5 ? '' : `fz-future-${i}`,
              source: 'fuzz',
              sourceId: String(i),
              kind: rand() < 0.5 ? 'podcast' : 'tweet',
              publishedAt: Date.now() + 30 * 86_400_000,
              title: null,
              text: bytes(rand, 64).toString('utf8'),
              url: null,
              author: null,
              ingestedAt: t,
            });
      return { kind: 'invalid', key, value, undecodable: false };
    }
  }
}

/** Strings that break parsers: empty, huge, traversal, NUL, numbers out of range, bad dates, unicode. */
const NASTY = [
  '',
  'BTCUSDT',
  'btcusdt',
  'A',
  'A'.repeat(5000),
  '../../../../etc/passwd',
  '%00',
  '%ff%fe',
  '-1',
  '0',
  '1e309',
  'NaN',
  '9007199254740993',
  '2025-13-45',
  '2025-01-01T00:00:00',
  '{"$gt":""}',
  '<script>alert(1)</script>',
  '\u202e\ud83d\ude00',
  "' OR 1=1 --",
  'null',
  '[]',
];

function nasty(rand: Rand): string {
  return rand() < 0.8 ? pick(rand, NASTY) : bytes(rand, int(rand, 64)).toString('latin1');
}

export interface RouteSpec {
  method: string;
  path: string;
  params: string[];
}

/** Every method and path of an OpenAPI document, with its query parameter names. */
export function routesOf(openapi: { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> }): RouteSpec[] {
  return Object.entries(openapi.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      params: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
    })),
  );
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | null;
}

/** A request near a real route: its path parameters and query filled with nasty values, odd methods, headers and bodies. */
export function fuzzRequest(rand: Rand, routes: readonly RouteSpec[], keys: readonly string[]): FuzzRequest {
  const route = pick(rand, routes);
  const path = route.path.replace(/\{[^}]+\}|:[a-zA-Z]+/g, () => encodeURIComponent(nasty(rand)));
  const names = [...route.params, pick(rand, ['symbol', 'interval', 'from', 'to', 'limit', 'horizon', 'model', 'api_key', '__proto__', 'x'])];
  const query = names
    .filter(() => rand() < 0.7)
    .flatMap((n) => (rand() < 0.1 ? [n, n] : [n]))
    .map((n) => `${encodeURIComponent(n)}=${encodeURIComponent(nasty(rand))}`)
    .join('&');
  const method = rand() < 0.7 ? route.method : pick(rand, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']);
  const headers: Record<string, string> = {};
  const auth = rand();
  if (auth < 0.6) headers.authorization = `Bearer ${pick(rand, keys)}`;
  else if (auth < 0.8) headers['x-api-key'] = pick(rand, [...keys, 'bpk_x_y', nasty(rand).replace(/[^\x20-\x7e]/g, '')]);
  if (rand() < 0.2) headers.origin = pick(rand, ['null', 'http://evil.example', 'file://', nasty(rand).replace(/[^\x20-\x7e]/g, '')]);
  let body: Buffer | null = null;
  if (method !== 'GET' && method !== 'HEAD' && rand() < 0.8) {
    headers['content-type'] = pick(rand, ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'x/y']);
    const b = rand();
    body =
      b < 0.3
        ? bytes(rand, int(rand, 4096))
        : b < 0.5
          ? Buffer.from(`{"name": ${JSON.stringify(nasty(rand))}, "scope": ${JSON.stringify(pick(rand, ['read', 'admin', 'root', '']))}`)
          : b < 0.6
            ? Buffer.alloc(2 * 1024 * 1024, 0x7b)
            : Buffer.from(JSON.stringify({ name: nasty(rand), scope: pick(rand, ['read', 'admin', 'root', 1, null]), extra: { __proto__: { x: 1 } } }));
  }
  // Framed like any client would (Node sends a DELETE or OPTIONS body with neither length nor
  // chunking, and the server would read the body as a second, garbage request).
  if (body) headers['content-length'] = String(body.length);
  return { method, path: `${path}${query ? `?${query}` : ''}`, headers, body };
}

/** Sends a request with node:http (fetch refuses some methods and headers); resolves with the status and body. */
export function send(base: string, r: FuzzRequest, timeoutMs = 10_000): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    // A connection of its own per request (agent: false): on a kept-alive one, the unread body of a
    // request the server answered early would be parsed as the next request.
    const req = request({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.headers, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 10_000) body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${r.method} ${r.path.slice(0, 200)} in ${timeoutMs} ms`)));
    // A server that answers (413, 401) before reading a large body may close while it is being
    // written; the answer still counts.
    req.on('error', reject);
    if (r.body) req.end(r.body);
    else req.end();
  });
}

/** One WebSocket frame outside (or at the edge of) the protocol. */
export function fuzzFrame(rand: Rand): { data: Buffer | string; binary: boolean; label: string } {
  const r = rand();
  if (r < 0.15) return { data: bytes(rand, int(rand, 512)), binary: true, label: 'binary' };
  if (r < 0.3) return { data: bytes(rand, int(rand, 512)).toString('latin1'), binary: false, label: 'text' };
  if (r < 0.35) return { data: Buffer.from([0xc3, 0x28, 0xff, 0xfe]), binary: false, label: 'invalid-utf8' };
  if (r < 0.4) return { data: 'x'.repeat(70 * 1024), binary: false, label: 'oversize' };
  if (r < 0.5) return { data: pick(rand, ['[]', '"subscribe"', '42', 'null', '{', '{"op":', '']), binary: false, label: 'not-object' };
  const msg: Record<string, unknown> = {};
  if (rand() < 0.9) msg.op = pick(rand, ['subscribe', 'unsubscribe', 'ping', 'SUBSCRIBE', 'admin', nasty(rand)]);
  if (rand() < 0.8)
    msg.channel = pick(rand, [
      'predictions:BTCUSDT',
      `features:${nasty(rand)}`,
      `${nasty(rand)}:BTCUSDT`,
      'candles:',
      'scores:BTCUSDT',
      'predictions:A',
      42,
      null,
      ['predictions:BTCUSDT'],
    ]);
  if (rand() < 0.3) msg.id = pick(rand, [1, 'a', 'x'.repeat(200), { a: 1 }, -0.5, null]);
  if (rand() < 0.3) msg.resume = pick(rand, [{ epoch: 'e', seq: 1 }, { epoch: 'x'.repeat(100), seq: -1 }, { seq: 1.5 }, 'r', null]);
  return { data: JSON.stringify(msg), binary: false, label: 'json' };
}

/** Sends frames on a fresh connection until it closes or `frames` were sent; what came back. */
export async function fuzzConnection(
  url: string,
  headers: Record<string, string>,
  frames: { data: Buffer | string; binary: boolean }[],
): Promise<{ replies: number; malformed: number; close: number }> {
  const ws = new WebSocket(url, { headers, perMessageDeflate: false });
  let replies = 0;
  let malformed = 0;
  ws.on('message', (d: Buffer) => {
    try {
      const v = JSON.parse(d.toString('utf8')) as { type?: unknown };
      if (typeof v.type === 'string') replies++;
      else malformed++;
    } catch {
      malformed++;
    }
  });
  ws.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with HTTP ${res.statusCode ?? '?'}`)));
  });
  for (const f of frames) {
    if (ws.readyState !== WebSocket.OPEN) break;
    ws.send(f.data, { binary: f.binary });
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 200));
  if (ws.readyState === WebSocket.OPEN) ws.close(1000);
  const timer = setTimeout(() => ws.terminate(), 5000);
  const close = await closed;
  clearTimeout(timer);
  return { replies, malformed, close };
}
