import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chaosTable, readChaos, recordChaos } from './report.js';

describe('chaos report', () => {
  it('writes one file per scenario, reads them back and prints null figures as "-"', () => {
    const env = { CHAOS_REPORT_DIR: mkdtempSync(join(tmpdir(), 'bp-chaos-')) };
    recordChaos({ scenario: 'b', fault: 'kill', lost: 0, duplicated: 0, crashes: 0, recoveryMs: 1500, maxLag: 12, peakMemoryMb: null, records: 10 }, env);
    recordChaos({ scenario: 'a', fault: 'flood', lost: 1, duplicated: 2, crashes: 0, recoveryMs: null, maxLag: null, peakMemoryMb: 88.4, records: 5 }, env);
    const rows = readChaos(env);
    expect(rows.map((r) => r.scenario)).toEqual(['a', 'b']);
    const table = chaosTable(rows).split('\n');
    expect(table[0]).toMatch(/^scenario\s+records\s+lost\s+dup\s+crashes\s+recovery s\s+max lag\s+peak MB\s+fault$/);
    expect(table[2]).toMatch(/^a\s+5\s+1\s+2\s+0\s+-\s+-\s+88\s+flood$/);
    expect(table[3]).toMatch(/^b\s+10\s+0\s+0\s+0\s+1\.5\s+12\s+-\s+kill$/);
  });

  it('refuses a bad scenario name or a count that is not one', () => {
    const env = { CHAOS_REPORT_DIR: mkdtempSync(join(tmpdir(), 'bp-chaos-')) };
    const row = { scenario: 'x', fault: 'f', lost: 0, duplicated: 0, crashes: 0, recoveryMs: null, maxLag: null, peakMemoryMb: null, records: 1 };
    expect(() => recordChaos({ ...row, scenario: '../etc' }, env)).toThrow(/must match/);
    expect(() => recordChaos({ ...row, lost: -1 }, env)).toThrow(/lost must be a count/);
    expect(() => recordChaos({ ...row, records: 1.5 }, env)).toThrow(/records must be a count/);
  });
});
