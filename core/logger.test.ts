import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

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
