import { describe, expect, it } from 'vitest';
import { prettyLogLine, resolveLogFormat } from './log-format.js';

describe('BITPREDICT_LOG_FORMAT', () => {
  it('auto is pretty on a terminal and JSON otherwise; json and pretty are forced', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });
});

describe('prettyLogLine', () => {
  const base = { level: 30, time: Date.UTC(2026, 0, 2, 3, 4, 5, 678), pid: 1, hostname: 'h', service: 'bitpredict-demo', version: '0.1.0' };

  it('writes time, level, component, message and the other fields as key=value', () => {
    const line = prettyLogLine(`${JSON.stringify({ ...base, component: 'features', msg: 'flushed', partition: 2, note: 'two words' })}\n`);
    expect(line).toBe('03:04:05.678 INFO  features  flushed  partition=2 note="two words"\n');
  });

  it('names the service when there is no component, and shows nested objects as JSON', () => {
    const line = prettyLogLine(JSON.stringify({ ...base, level: 40, msg: 'lag', lag: { p0: 3 } }));
    expect(line).toBe('03:04:05.678 WARN  bitpredict-demo  lag  lag={"p0":3}\n');
  });

  it('shows an error as type, code and message, with the first stack frames at error level', () => {
    const err = { type: 'BitPredictError', code: 'ERR_X', message: 'broken', stack: 'BitPredictError: broken\n    at a (f.ts:1:1)\n    at b (g.ts:2:2)' };
    const line = prettyLogLine(JSON.stringify({ ...base, level: 50, msg: 'failed', err }));
    expect(line).toContain('ERROR bitpredict-demo  failed  err="BitPredictError ERR_X: broken"');
    expect(line).toContain('\n    at a (f.ts:1:1)\n    at b (g.ts:2:2)');
  });

  it('passes through what is not a JSON object unchanged: nothing is dropped', () => {
    for (const raw of ['plain text\n', '{"truncated":', '[1,2]\n', 'null\n', '']) expect(prettyLogLine(raw)).toBe(raw);
  });

  it('colours the level only when asked', () => {
    expect(prettyLogLine(JSON.stringify({ ...base, msg: 'm' }), { colour: true })).toContain('\u001b[32mINFO \u001b[0m');
    expect(prettyLogLine(JSON.stringify({ ...base, msg: 'm' }))).not.toContain('\u001b[');
  });
});
