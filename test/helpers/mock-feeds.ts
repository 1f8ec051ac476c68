// A loopback HTTP server standing in for news sites and the X API in tests. Each path answers from
// a queue of scripted responses (the last one repeats); every request is recorded with its headers
// and arrival time, so tests can check conditional GET, paging parameters and rate-limit waits.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MockResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Answer 304 (empty) when the request's If-None-Match equals this response's ETag header. */
  conditional?: boolean;
  /** Never answer (for timeouts). */
  hang?: boolean;
  /** Computed per request (for rate-limit reset times relative to now). */
  dynamic?(req: { url: URL; headers: IncomingHttpHeaders }): MockResponse;
}

export interface MockRequest {
  path: string;
  url: URL;
  headers: IncomingHttpHeaders;
  at: number;
}

export interface MockFeedHost {
  url(path: string): string;
  script(path: string, responses: MockResponse[]): void;
  requests(path?: string): MockRequest[];
  close(): Promise<void>;
}

export async function startMockFeedHost(): Promise<MockFeedHost> {
  const scripts = new Map<string, MockResponse[]>();
  const log: MockRequest[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    log.push({ path: url.pathname, url, headers: req.headers, at: Date.now() });
    const queue = scripts.get(url.pathname);
    let r: MockResponse | undefined = queue && queue.length > 1 ? queue.shift() : queue?.[0];
    if (r?.dynamic) r = r.dynamic({ url, headers: req.headers });
    if (!r) {
      res.writeHead(404).end('not found');
      return;
    }
    if (r.hang) return;
    const etag = r.headers?.etag;
    if (r.conditional && etag !== undefined && req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return;
    }
    res.writeHead(r.status ?? 200, { 'content-type': 'application/xml; charset=utf-8', ...r.headers }).end(r.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    script: (path, responses) => scripts.set(path, [...responses]),
    requests: (path) => log.filter((r) => path === undefined || r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
