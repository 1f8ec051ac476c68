// The small HTTP server every worker (replay, processors, predictor) exposes for Kubernetes and
// Prometheus: /healthz (process alive), /readyz (ready to do its job: 200/503 with checks),
// /metrics. The gateway serves the same routes from its own fastify app instead.
import { createServer, type Server } from 'node:http';
import type { Registry } from './metrics.js';
import type { Readiness } from './service.js';
import { redactText } from './redact.js';

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(deps: { port: number; host?: string; registry: Registry; readiness: () => Readiness }): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (url === '/readyz') {
      const r = deps.readiness();
      res
        .writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(redactText(JSON.stringify({ status: r.ready ? 'ready' : 'not ready', checks: r.checks, warnings: r.warnings ?? [] })));
    } else if (url === '/metrics') {
      deps.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': deps.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"ERR_NOT_FOUND","message":"no such route"}');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.port, deps.host ?? '0.0.0.0', () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : deps.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
