import { describe, expect, it } from 'vitest';
import { createOutput } from './output.js';

function capture() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const output = createOutput({ stdout: { write: (c: string) => stdout.push(c) }, stderr: { write: (c: string) => stderr.push(c) } });
  return { output, stdout, stderr };
}

describe('cli output', () => {
  it('puts results on stdout: lines, blocks as given, and one JSON value per line', () => {
    const { output, stdout, stderr } = capture();
    output.line('all topics exist');
    output.text('a  b\nc  d\n');
    output.json({ bars: 3, html: 'r.html' });
    expect(stdout).toEqual(['all topics exist\n', 'a  b\nc  d\n', '{"bars":3,"html":"r.html"}\n']);
    expect(stderr).toEqual([]);
  });

  it('puts notes, progress and errors on stderr; progress is written as is, so a bar can redraw its line', () => {
    const { output, stdout, stderr } = capture();
    output.note('[backtest] done');
    output.progress('\r[backtest] [###] 3/3');
    output.error('usage: bitpredict topics create|list');
    expect(stderr).toEqual(['[backtest] done\n', '\r[backtest] [###] 3/3', 'usage: bitpredict topics create|list\n']);
    expect(stdout).toEqual([]);
  });

  it("looks the stream's write up on every call, so a replaced process.stdout.write still sees the output", () => {
    const seen: string[] = [];
    const sink = { write: (_c: string): unknown => undefined };
    const output = createOutput({ stdout: sink, stderr: sink });
    sink.write = (c: string) => seen.push(c);
    output.line('later');
    expect(seen).toEqual(['later\n']);
  });
});
