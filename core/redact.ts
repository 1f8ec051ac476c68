// One place that keeps secrets out of text a person or a log shipper sees: log lines (core/logger.ts
// runs every line through redactText), CLI error output (cli/main.ts), /readyz bodies
// (core/health.ts) and configuration messages (core/env-config.ts, core/connection-security.ts).
// Two rules: the password of any URL with user information (scheme://user:password@host) becomes
// ***, and every secret the process has read (registry, Redis and Kafka SASL passwords, model
// signing keys: registered with addSecrets when they are read) is replaced by *** wherever it
// appears, as is, JSON-escaped or percent-encoded.

/** The shortest secret replaced by value: shorter ones would blank out ordinary words. */
const MIN_SECRET_LENGTH = 4;

const secrets = new Set<string>();
/** Every registered secret's forms, longest first (so a secret containing another is replaced whole). */
let forms: string[] = [];

/** Registers secrets the process holds, so redactText replaces them wherever they appear. */
export function addSecrets(values: Iterable<string | null | undefined>): void {
  let changed = false;
  for (const v of values) {
    if (typeof v !== 'string' || v.length < MIN_SECRET_LENGTH || secrets.has(v)) continue;
    secrets.add(v);
    changed = true;
  }
  if (!changed) return;
  const all = new Set<string>();
  for (const s of secrets) {
    all.add(s);
    all.add(JSON.stringify(s).slice(1, -1));
    all.add(encodeURIComponent(s));
    all.add(JSON.stringify(encodeURIComponent(s)).slice(1, -1));
  }
  forms = [...all].filter((f) => f.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
}

/** Percent-decoded text, or the text itself when it is not valid percent-encoding. */
export function decodedOr(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Scheme, then user information with a password: the password (up to the last @ before the host) goes. */
const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^\s/:@"'<>]*):[^\s/"'<>]*@/gi;

/** The text with URL passwords and every registered secret replaced by ***. */
export function redactText(text: string): string {
  let out = text.replace(URL_PASSWORD, '$1:***@');
  for (const f of forms) if (out.includes(f)) out = out.split(f).join('***');
  return out;
}

/** A URL with its password (and, with `dropUser`, its user) removed; the text with every URL password hidden when it does not parse. */
export function redactUrl(text: string, opts: { dropUser?: boolean } = {}): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return redactText(text.replace(/\/\/[^/@\s]*@/, '//***@'));
  }
  if (u.password !== '') u.password = '***';
  if (opts.dropUser === true) {
    u.username = '';
    u.password = '';
  }
  return u.toString().replace(/\/$/, text.endsWith('/') ? '/' : '');
}
