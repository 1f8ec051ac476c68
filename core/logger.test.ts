import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { addSecrets } from './redact.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { lines, stream };
}

describe('createLogger redaction', () => {
  it('never writes API keys or bearer tokens, wherever the headers sit', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    const secret = 'bpk_0123456789ab_SECRETSECRETSECRET';
    log.info({ headers: { authorization: `Bearer ${secret}`, 'x-api-key': secret } }, 'a');
    log.info({ req: { headers: { authorization: `Bearer ${secret}`, 'x-api-key': secret, host: 'h' } } }, 'b');
    log.info({ client: { apiKey: secret }, apiKey: secret, x: { token: secret } }, 'c');
    const out = lines.join('');
    expect(out).not.toContain('SECRET');
    expect(out.match(/\[redacted\]/g)?.length).toBe(7);
    expect(out).toContain('"host":"h"');
  });
});

describe('createLogger service key', () => {
  // pino writes the root's bindings and a call's own object side by side, without merging: a
  // `service` in the object would make a second "service" key in the same JSON line.
  it('writes one service key per line, the process one, when a log call names another service', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', name: 'bitpredict-demo', destination: stream });
    log.child({ component: 'stack' }).warn({ pid: 42, service: 'kafka' }, 'did not stop within the grace period; killed');
    const line = lines.join('').trim();
    expect(line.match(/"service":/g)).toHaveLength(1);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toMatchObject({ service: 'bitpredict-demo', component: 'stack', peer_service: 'kafka', pid: 42 });
  });
});

describe('createLogger format pretty', () => {
  it('writes human lines, one service, and still redacts secrets', () => {
    const { lines, stream } = capture();
    const secret = 'pretty-secret-0123456789';
    addSecrets([secret]);
    const log = createLogger({ level: 'info', name: 'bitpredict-demo', destination: stream, format: 'pretty' });
    log.child({ component: 'stack' }).warn({ service: 'kafka', url: `http://u:${secret}@h` }, 'killed');
    const out = lines.join('');
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}stack {2}killed {2}/);
    expect(out).toContain(' peer_service=kafka');
    expect(out).toContain(' url=http://u:');
    expect(out).not.toContain(secret);
    expect(out).not.toContain('{"level"');
  });

  it('stays JSON by default', () => {
    const { lines, stream } = capture();
    createLogger({ level: 'info', destination: stream }).info('x');
    expect(JSON.parse(lines.join('')) as object).toMatchObject({ msg: 'x' });
  });
});
