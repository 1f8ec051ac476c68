// Human log lines for a terminal. The services write one JSON object per line (pino), which is
// what log shippers and `jq` want; on a terminal the same lines are hard to read between the
// demo's own `[demo]` lines. BITPREDICT_LOG_FORMAT=auto (the default) turns each JSON line into
// "12:00:01.234 INFO  features  message  key=value ..." when stdout is a terminal and keeps JSON
// otherwise; `json` and `pretty` force one or the other. Only the rendering changes: the same
// fields, the same redaction (applied to the JSON line before it is rendered).

export type LogFormat = 'json' | 'pretty';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every line carries that a person at a terminal does not need on each line. */
const QUIET = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'version', 'component']);

/** The format for BITPREDICT_LOG_FORMAT: `auto` is pretty on a terminal, JSON otherwise. */
export function resolveLogFormat(setting: 'auto' | LogFormat, isTty: boolean): LogFormat {
  if (setting === 'auto') return isTty ? 'pretty' : 'json';
  return setting;
}

function clock(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '--:--:--.---';
  return new Date(ms).toISOString().slice(11, 23);
}

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) || v === '' ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    // pino's err serializer: the type and message, not the whole object.
    if (typeof o.message === 'string' && (typeof o.type === 'string' || typeof o.stack === 'string')) {
      const code = typeof o.code === 'string' ? ` ${o.code}` : '';
      return JSON.stringify(`${typeof o.type === 'string' ? o.type : 'Error'}${code}: ${o.message}`);
    }
    return JSON.stringify(v);
  }
  return String(v);
}

/**
 * One pino JSON line (with or without its newline) as a human line. A line that is not a JSON
 * object is returned as it is: nothing written to the log is ever dropped by the rendering.
 */
export function prettyLogLine(line: string, opts: { colour?: boolean } = {}): string {
  const text = line.endsWith('\n') ? line.slice(0, -1) : line;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return line;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return line;
  const o = obj as Record<string, unknown>;
  const level = typeof o.level === 'number' ? o.level : 30;
  let name = (LEVELS[level] ?? String(level)).padEnd(5);
  if (opts.colour === true) name = `\u001b[${COLOURS[level] ?? '0'}m${name}\u001b[0m`;
  const who = typeof o.component === 'string' ? o.component : typeof o.service === 'string' ? o.service : '';
  const fields = Object.entries(o)
    .filter(([k, v]) => !QUIET.has(k) && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  const msg = typeof o.msg === 'string' ? o.msg : '';
  const stack =
    level >= 50 && o.err !== null && typeof o.err === 'object' && typeof (o.err as { stack?: unknown }).stack === 'string'
      ? `\n    ${(o.err as { stack: string }).stack
          .split('\n')
          .slice(1, 4)
          .map((s) => s.trim())
          .join('\n    ')}`
      : '';
  return `${clock(o.time)} ${name} ${who ? `${who}  ` : ''}${msg}${fields.length > 0 ? `  ${fields.join(' ')}` : ''}${stack}\n`;
}
