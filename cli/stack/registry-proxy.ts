// The schema registry behind HTTP basic auth and TLS, for `bitpredict stack up --secure`.
// Apicurio 3's own authentication needs an OIDC server, which the local stack does not have; a
// managed registry (Confluent Cloud, Strimzi's with an ingress) asks for basic auth over TLS. So
// the stack runs this small reverse proxy in front of the local registry: TLS with the broker's
// keystore (signed by the stack's CA, naming 127.0.0.1 and localhost), basic auth against one
// generated password, and every request that passes forwarded unchanged to the registry.
// Run as its own process (the stack starts it detached, with a pid file, like the servers):
//   node --import tsx cli/stack/registry-proxy.ts <config.json>
// The config file holds paths only; the secrets are read from their files at start.
import { timingSafeEqual, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer } from 'node:https';

export interface RegistryProxyConfig {
  listen: { host: string; port: number };
  target: { host: string; port: number };
  /** PKCS12 keystore of the server certificate and the file (secrets.json) holding its password. */
  keystore: string;
  secretsFile: string;
  user: string;
  passwordFile: string;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** True when the Authorization header is Basic with this user and password (compared in constant time). */
export function basicAuthMatches(header: string | undefined, user: string, password: string): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m?.[1]) return false;
  const given = Buffer.from(m[1], 'base64').toString('utf8');
  // Hashes of equal length, so neither the length nor the content leaks through timing.
  return timingSafeEqual(digest(given), digest(`${user}:${password}`));
}

function log(event: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
}

export function startRegistryProxy(cfg: RegistryProxyConfig): Promise<{ close(): Promise<void> }> {
  const secrets = JSON.parse(readFileSync(cfg.secretsFile, 'utf8')) as { keystorePassword: string };
  const password = readFileSync(cfg.passwordFile, 'utf8').replace(/\r?\n$/, '');
  const server = createServer({ pfx: readFileSync(cfg.keystore), passphrase: secrets.keystorePassword }, (req: IncomingMessage, res: ServerResponse) => {
    if (!basicAuthMatches(req.headers.authorization, cfg.user, password)) {
      log({ event: 'refused', method: req.method, path: req.url, reason: req.headers.authorization === undefined ? 'no credentials' : 'wrong credentials' });
      res.writeHead(401, { 'www-authenticate': 'Basic realm="bitpredict registry"', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 401, message: 'Unauthorized' }));
      return;
    }
    const headers = { ...req.headers, host: `${cfg.target.host}:${cfg.target.port}` };
    delete headers.authorization;
    const upstream = request({ host: cfg.target.host, port: cfg.target.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      log({ event: 'upstream error', message: err.message });
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error_code: 502, message: `registry at ${cfg.target.host}:${cfg.target.port} did not answer` }));
    });
    req.pipe(upstream);
  });
  // A failed handshake (an unknown CA on the client side) is the client's business; log and go on.
  server.on('tlsClientError', (err) => log({ event: 'tls client error', message: err.message }));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.listen.port, cfg.listen.host, () => {
      log({ event: 'listening', listen: `${cfg.listen.host}:${cfg.listen.port}`, target: `${cfg.target.host}:${cfg.target.port}` });
      resolve({
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const file = argv[2];
  if (file === undefined) {
    process.stderr.write('usage: registry-proxy <config.json>\n');
    process.exit(2);
  }
  const proxy = await startRegistryProxy(JSON.parse(readFileSync(file, 'utf8')) as RegistryProxyConfig);
  const stop = (signal: string): void => {
    log({ event: 'stopping', signal });
    void proxy.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

// Only when run as a program: the stack imports this module for its types and the unit tests.
if (process.argv[1] !== undefined && /registry-proxy\.(ts|js)$/.test(process.argv[1])) {
  main(process.argv).catch((err: unknown) => {
    log({ event: 'failed', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  });
}
