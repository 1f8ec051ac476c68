// The version every log line and span carries: package.json's, read once. The file sits one floor
// above this module when run from source (tsx: core/version.ts) and two floors above when built
// (the image runs dist/core/version.js with /app/package.json beside dist/).
import { readFileSync } from 'node:fs';

function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'bitpredict' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not at this floor; try the next
    }
  }
  return 'unknown';
}

/** BitPredict's package version ("unknown" when package.json cannot be found). */
export const VERSION = readVersion();
