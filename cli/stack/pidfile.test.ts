import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPidFile, parsePid, systemPidProbe, writePidFile, type PidProbe } from './pidfile.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'bp-pid-'));
}

const fakeProbe = (alive: Record<number, string | null>): PidProbe => ({
  isAlive: (pid) => pid in alive,
  cmdline: (pid) => alive[pid] ?? null,
});

describe('parsePid', () => {
  it.each([
    ['1234\n', 1234],
    ['  42  ', 42],
    ['', null],
    ['abc', null],
    ['12 34', null],
    ['-5', null],
    ['1', null],
    ['0', null],
    ['99999999999', null],
    ['1234\n5678\n', null],
  ])('%j -> %j', (text, want) => {
    expect(parsePid(text)).toBe(want);
  });
});

describe('checkPidFile', () => {
  it('reports no pid when the file does not exist', () => {
    expect(checkPidFile(join(tmp(), 'none.pid'), 'kafka.Kafka', fakeProbe({}))).toEqual({ pid: null, alive: false, staleRemoved: false });
  });

  it('keeps a pid file whose process lives and matches', () => {
    const file = join(tmp(), 'kafka.pid');
    writePidFile(file, 4242);
    const state = checkPidFile(file, 'kafka.Kafka', fakeProbe({ 4242: 'java -cp libs/* kafka.Kafka server.properties' }));
    expect(state).toEqual({ pid: 4242, alive: true, staleRemoved: false });
    expect(readFileSync(file, 'utf8')).toBe('4242\n');
  });

  it('removes a stale pid file whose process is gone', () => {
    const file = join(tmp(), 'kafka.pid');
    writePidFile(file, 4242);
    expect(checkPidFile(file, 'kafka.Kafka', fakeProbe({}))).toEqual({ pid: 4242, alive: false, staleRemoved: true });
    expect(existsSync(file)).toBe(false);
  });

  it('treats a reused pid (another program) as stale, so down never signals a stranger', () => {
    const file = join(tmp(), 'kafka.pid');
    writePidFile(file, 4242);
    expect(checkPidFile(file, 'kafka.Kafka', fakeProbe({ 4242: '/usr/sbin/sshd -D' }))).toMatchObject({ alive: false, staleRemoved: true });
    expect(existsSync(file)).toBe(false);
  });

  it('trusts a live pid when the command line cannot be read', () => {
    const file = join(tmp(), 'kafka.pid');
    writePidFile(file, 4242);
    expect(checkPidFile(file, 'kafka.Kafka', fakeProbe({ 4242: null })).alive).toBe(true);
  });

  it.each(['', 'garbage', '12abc', '\u0000\u0000', '-1'])('removes a malformed pid file %j', (content) => {
    const file = join(tmp(), 'x.pid');
    writeFileSync(file, content);
    expect(checkPidFile(file, 'kafka.Kafka', fakeProbe({}))).toEqual({ pid: null, alive: false, staleRemoved: true });
    expect(existsSync(file)).toBe(false);
  });

  it('leaves a stale file in place when asked to only look (status)', () => {
    const file = join(tmp(), 'kafka.pid');
    writePidFile(file, 4242);
    expect(checkPidFile(file, 'kafka.Kafka', fakeProbe({}), { removeStale: false })).toEqual({ pid: 4242, alive: false, staleRemoved: false });
    expect(existsSync(file)).toBe(true);
  });

  it('sees this very process as alive and an exited child as stale (real processes)', async () => {
    const dir = tmp();
    const self = join(dir, 'self.pid');
    writePidFile(self, process.pid);
    expect(checkPidFile(self, 'node', systemPidProbe).alive).toBe(true);

    const child = spawn(process.execPath, ['-e', '']);
    const pid = child.pid;
    expect(pid).toBeTypeOf('number');
    await new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const gone = join(dir, 'gone.pid');
    writePidFile(gone, pid ?? 0);
    expect(checkPidFile(gone, 'node', systemPidProbe)).toMatchObject({ alive: false, staleRemoved: true });
  });
});
