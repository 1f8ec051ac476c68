// Text progress for long jobs (training, walk-forward evaluation) on a terminal.

/** A text progress bar: [#####.....] done/total. */
export function progressBar(done: number, total: number, width = 30): string {
  const k = Math.round((Math.min(done, total) / Math.max(total, 1)) * width);
  return `[${'#'.repeat(k)}${'.'.repeat(width - k)}] ${done}/${total}`;
}
