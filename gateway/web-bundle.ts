// The dashboard's bundle: esbuild turns the page's TypeScript (gateway/web/main.ts) and
// lightweight-charts into one minified ES module, gateway/public/build/app.js (gitignored), that
// the gateway serves. Two callers share these options: `npm run build:web` (and `npm run build`,
// which copies it into dist/), and the gateway itself when it runs from source and finds the
// bundle missing or older than the page's sources (gateway/dashboard.ts), so a fresh clone's
// `npm install && npm run demo` serves the page without a build step. esbuild is a
// devDependency: only this module imports it, and dist/ never loads this module (it carries no
// web sources and serves the bundle that `npm run build` wrote).
import { build } from 'esbuild';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const WEB_ENTRY = new URL('./web/main.ts', import.meta.url);
export const BUNDLE_PATH = 'build/app.js';

/** Bundles the page into `outFile` (written whole or not at all); returns its size in bytes. */
export async function bundleWeb(outFile: URL): Promise<number> {
  const result = await build({
    entryPoints: [fileURLToPath(WEB_ENTRY)],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    platform: 'browser',
    // The library's licence header stays in the bundle.
    legalComments: 'eof',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]?.contents;
  if (code === undefined) throw new Error('esbuild produced no output');
  const path = fileURLToPath(outFile);
  await mkdir(fileURLToPath(new URL('.', outFile)), { recursive: true });
  // Another process (parallel tests) may build at the same time: rename makes each write atomic.
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, code);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  return code.byteLength;
}

// `npm run build:web`: tsx gateway/web-bundle.ts
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = new URL(`./public/${BUNDLE_PATH}`, import.meta.url);
  const bytes = await bundleWeb(out);
  process.stdout.write(`${fileURLToPath(out)}: ${bytes} bytes\n`);
}
