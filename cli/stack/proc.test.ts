import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isProcessAlive } from './pidfile.js';
import { fileContainsSince, fileSize, lastLine, runAsync, runSync, spawnDetached, stopProcess, tailFile } from './proc.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'bp-proc-'));
}

describe('tailFile', () => {
  it('returns the last n lines, or everything when shorter, or "" when missing', () => {
    const file = join(tmp(), 'x.log');
    writeFileSync(file, Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n');
    expect(tailFile(file, 3)).toBe('line 28\nline 29\nline 30');
    expect(tailFile(file, 100).split('\n')).toHaveLength(30);
    expect(tailFile(join(tmp(), 'missing.log'))).toBe('');
  });

  it('reads only the end of a huge log', () => {
    const file = join(tmp(), 'big.log');
    writeFileSync(file, `${'x'.repeat(1024)}\n`.repeat(2048) + 'the end\n');
    expect(tailFile(file, 1)).toBe('the end');
  });
});

describe('fileContainsSince', () => {
  it('only looks at what was written after the offset', () => {
    const file = join(tmp(), 'server.log');
    writeFileSync(file, 'old run: Kafka Server started\n');
    const since = fileSize(file);
    expect(fileContainsSince(file, 'Kafka Server started', since)).toBe(false);
    appendFileSync(file, 'starting...\n');
    expect(fileContainsSince(file, 'Kafka Server started', since)).toBe(false);
    appendFileSync(file, '[KafkaRaftServer nodeId=1] Kafka Server started\n');
    expect(fileContainsSince(file, 'Kafka Server started', since)).toBe(true);
  });

  it('reads a rolled-over (shorter) file from the start, and a missing one as false', () => {
    const file = join(tmp(), 'server.log');
    writeFileSync(file, 'Kafka Server started\n');
    expect(fileContainsSince(file, 'Kafka Server started', 10_000)).toBe(true);
    expect(fileContainsSince(join(tmp(), 'none.log'), 'x', 0)).toBe(false);
  });
});

describe('lastLine', () => {
  it('prefers Maven [ERROR] lines and strips ANSI codes', () => {
    const esc = String.fromCharCode(27);
    expect(lastLine(`${esc}[0m[INFO] a\n[ERROR] the cause\n[ERROR] more\n${esc}[0m`)).toBe('[ERROR] the cause');
    expect(lastLine('first\n  second  \n\n')).toBe('second');
    expect(lastLine('')).toBe('(no output)');
  });
});

describe('runSync / runAsync', () => {
  it('flags a missing executable instead of throwing', async () => {
    expect(runSync('/nonexistent/tool', []).missing).toBe(true);
    expect((await runAsync('/nonexistent/tool', [])).missing).toBe(true);
  });

  it('collects output and exit status', async () => {
    const r = await runAsync(process.execPath, ['-e', 'console.log("out"); console.error("err"); process.exit(3)']);
    expect(r).toMatchObject({ status: 3, missing: false });
    expect(r.output).toContain('out');
    expect(r.output).toContain('err');
  });
});

describe('spawnDetached and stopProcess (real processes)', () => {
  it('starts a detached process with output in the log, then stops it with SIGTERM', async () => {
    const dir = tmp();
    const out = join(dir, 'logs', 'child.out');
    const child = await spawnDetached(process.execPath, ['-e', 'console.log("hello from child"); setInterval(() => {}, 1000)'], { cwd: dir, outFile: out });
    expect(isProcessAlive(child.pid)).toBe(true);
    for (let i = 0; i < 100 && !readFileSync(out, 'utf8').includes('hello'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(out, 'utf8')).toContain('hello from child');
    expect(await stopProcess(child.pid, 10_000)).toBe('terminated');
    expect(isProcessAlive(child.pid)).toBe(false);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const child = spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); console.log("ready"); setInterval(() => {}, 1000)'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const pid = child.pid ?? 0;
    // Reap the child as soon as it dies so liveness checks do not see a zombie.
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    expect(await stopProcess(pid, 300, () => child.exitCode === null && child.signalCode === null)).toBe('killed');
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
  });

  it('reports an already gone process as not running', async () => {
    expect(await stopProcess(4_000_000, 100)).toBe('not-running');
  });

  it('rejects with ERR_STACK when the executable cannot start', async () => {
    await expect(spawnDetached('/nonexistent/java', [], { cwd: tmp(), outFile: join(tmp(), 'x.out') })).rejects.toMatchObject({ code: 'ERR_STACK' });
  });
});
