// A local stand-in for the CryptoCompare-style histo API (node:http on 127.0.0.1, port 0): answers
// each request with the next queued reply, or the fallback once the queue is empty, and records
// every request. Replies are built from the recorded-shape fixtures in test/fixtures/poll/.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { REPO_ROOT } from './platform.js';
import { resolve } from 'node:path';

export interface MockReply {
  status?: number;
  headers?: Record<string, string>;
  body: string;
}

export interface MockPoll {
  url: string;
  requests: { path: string; query: URLSearchParams }[];
  push(...replies: MockReply[]): void;
  setFallback(reply: MockReply): void;
  close(): Promise<void>;
}

export interface HistoRowJson {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volumefrom: number;
  volumeto: number;
  conversionType?: string;
  conversionSymbol?: string;
}

export function pollFixture(name: string): string {
  return readFileSync(resolve(REPO_ROOT, 'test/fixtures/poll', name), 'utf8');
}

/** The rows of a fixture's Data.Data. */
export function fixtureRows(name: string): HistoRowJson[] {
  return (JSON.parse(pollFixture(name)) as { Data: { Data: HistoRowJson[] } }).Data.Data;
}

/** A success body in the API's shape around the given rows. */
export function histoBody(rows: unknown[]): string {
  const times = rows.map((r) => (r as { time?: unknown }).time).filter((t): t is number => typeof t === 'number');
  return JSON.stringify({
    Response: 'Success',
    Message: '',
    HasWarning: false,
    Type: 100,
    RateLimit: {},
    Data: { Aggregated: false, TimeFrom: times[0] ?? 0, TimeTo: times.at(-1) ?? 0, Data: rows },
  });
}

export async function startMockPoll(): Promise<MockPoll> {
  const queue: MockReply[] = [];
  let fallback: MockReply = { status: 503, body: 'no reply queued' };
  const requests: MockPoll['requests'] = [];
  const server: Server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ path: u.pathname, query: u.searchParams });
    const reply = queue.shift() ?? fallback;
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json; charset=UTF-8', ...reply.headers });
    res.end(reply.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    push: (...replies) => void queue.push(...replies),
    setFallback: (reply) => {
      fallback = reply;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
