// Prints the chaos table (test/chaos/report.ts) and, as the last line, one JSON object with every
// row, so the run can be read by people and by scripts. Exit code 1 when any row lost or
// duplicated a record or saw a crash.
import { chaosReportDir, chaosTable, readChaos } from './report.js';

const rows = readChaos();
if (rows.length === 0) {
  process.stdout.write(`no chaos results in ${chaosReportDir()}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`${chaosTable(rows)}\n`);
  process.stdout.write(`${JSON.stringify({ chaos: rows })}\n`);
  if (rows.some((r) => r.lost > 0 || r.duplicated > 0 || r.crashes > 0)) process.exitCode = 1;
}
