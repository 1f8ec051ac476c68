// The dashboard's static files (gateway/public, with the page's bundle in build/), read once at
// startup and served from memory on public routes (no scope), with a content security policy on
// the page, an ETag, and a gzip copy of the text files for browsers that take it.
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../core/logger.js';
import { errorMessage } from '../core/errors.js';

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
// style-src needs no 'unsafe-inline': lightweight-charts sizes its canvases through the CSSOM
// (element.style), which CSP allows, and the page turns off the one thing that would inject a
// <style> element (the chart's attribution logo; the footer carries the attribution instead).
const DASHBOARD_CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/** Text files above this size are also kept gzipped (the bundle: about 223 KB, 74 KB gzipped). */
const GZIP_MIN_BYTES = 1024;

export interface StaticFile {
  /** Path under the public folder, with forward slashes: "index.html", "build/app.js". */
  name: string;
  body: Buffer;
  type: string;
  gzip?: Buffer;
  etag?: string;
}

/** Where the page's bundle sits under the public folder (gateway/web-bundle.ts writes it). */
export const BUNDLE_NAME = 'build/app.js';
const WEB_SOURCES = new URL('./web/', import.meta.url);

async function mtimeOf(url: URL): Promise<number | null> {
  try {
    return (await stat(url)).mtimeMs;
  } catch {
    return null;
  }
}

/** The newest modification time of the page's sources (gateway/web, tests left out). */
async function newestSource(): Promise<number> {
  const entries = await readdir(WEB_SOURCES, { recursive: true, withFileTypes: true });
  let newest = 0;
  for (const e of entries) {
    if (!e.isFile() || !e.name.endsWith('.ts') || e.name.endsWith('.test.ts')) continue;
    newest = Math.max(newest, (await stat(join(e.parentPath, e.name))).mtimeMs);
  }
  return newest;
}

/**
 * Running from source (the page's TypeScript beside this module), (re)builds the bundle when it
 * is missing or older than the sources, so `npm run demo` on a fresh clone serves the page and a
 * changed page is never served stale. From dist/ there are no sources: the bundle that
 * `npm run build` wrote is served as it is.
 */
export async function ensureBundle(dir: URL, log?: Logger): Promise<void> {
  if ((await mtimeOf(new URL('main.ts', WEB_SOURCES))) === null) return;
  const out = new URL(BUNDLE_NAME, dir);
  const built = await mtimeOf(out);
  if (built !== null && built >= (await newestSource())) return;
  try {
    const { bundleWeb } = await import('./web-bundle.js');
    const bytes = await bundleWeb(out);
    log?.info({ bytes, file: BUNDLE_NAME }, 'built the dashboard bundle from gateway/web');
  } catch (err) {
    // Without esbuild (production dependencies only) or with a broken page, the gateway still serves its API.
    log?.warn({ err: errorMessage(err) }, 'could not build the dashboard bundle; run npm run build:web');
  }
}

function withVariants(f: StaticFile): StaticFile {
  const etag = `"${createHash('sha256').update(f.body).digest('base64url').slice(0, 22)}"`;
  const text = f.type.startsWith('text/') || f.type.startsWith('application/json') || f.type === 'image/svg+xml';
  return text && f.body.length >= GZIP_MIN_BYTES ? { ...f, etag, gzip: gzipSync(f.body, { level: 9 }) } : { ...f, etag };
}

/** The files of `dir` and its folders with a known content type; hidden files and folders are left out. */
export async function loadPublic(dir: URL, log?: Logger): Promise<StaticFile[]> {
  await readdir(dir);
  await ensureBundle(dir, log);
  const root = fileURLToPath(dir);
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files: StaticFile[] = [];
  for (const e of entries) {
    const type = CONTENT_TYPES[extname(e.name).toLowerCase()];
    const path = join(e.parentPath, e.name);
    const name = relative(root, path).split(sep).join('/');
    if (!e.isFile() || !type || name.split('/').some((part) => part.startsWith('.'))) continue;
    files.push(withVariants({ name, body: await readFile(path), type }));
  }
  return files;
}

/** One GET route per file (index.html also at /), hidden from the OpenAPI document. */
export function registerDashboard(app: FastifyInstance, files: readonly StaticFile[]): void {
  for (const f of files) {
    const paths = f.name === 'index.html' ? ['/', '/index.html'] : [`/${f.name}`];
    for (const path of paths) {
      app.get(path, { schema: { hide: true } }, (req, reply) => {
        reply.header('content-type', f.type).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache');
        if (f.type.startsWith('text/html')) reply.header('content-security-policy', DASHBOARD_CSP);
        if (f.etag !== undefined) {
          reply.header('etag', f.etag);
          if (req.headers['if-none-match'] === f.etag) return reply.code(304).send();
        }
        if (f.gzip === undefined) return reply.send(f.body);
        reply.header('vary', 'accept-encoding');
        const accept = req.headers['accept-encoding'];
        if (typeof accept === 'string' && /\bgzip\b/.test(accept)) return reply.header('content-encoding', 'gzip').send(f.gzip);
        return reply.send(f.body);
      });
    }
  }
}
