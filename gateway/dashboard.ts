// The dashboard's static files (gateway/public), read once at startup and served from memory on
// public routes (no scope), with a content security policy on the page.
import { readdir, readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { FastifyInstance } from 'fastify';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

// The dashboard loads nothing from elsewhere (the machines are offline) and runs no inline script.
const DASHBOARD_CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export interface StaticFile {
  name: string;
  body: Buffer;
  type: string;
}

/** The files of `dir` with a known content type; hidden files and folders are left out. */
export async function loadPublic(dir: URL): Promise<StaticFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: StaticFile[] = [];
  for (const e of entries) {
    const type = CONTENT_TYPES[extname(e.name).toLowerCase()];
    if (!e.isFile() || !type || e.name.startsWith('.')) continue;
    files.push({ name: e.name, body: await readFile(new URL(e.name, dir)), type });
  }
  return files;
}

/** One GET route per file (index.html also at /), hidden from the OpenAPI document. */
export function registerDashboard(app: FastifyInstance, files: readonly StaticFile[]): void {
  for (const f of files) {
    const paths = f.name === 'index.html' ? ['/', '/index.html'] : [`/${f.name}`];
    for (const path of paths) {
      app.get(path, { schema: { hide: true } }, (_req, reply) => {
        reply.header('content-type', f.type).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache');
        if (f.type.startsWith('text/html')) reply.header('content-security-policy', DASHBOARD_CSP);
        return reply.send(f.body);
      });
    }
  }
}
