// The one way cli/ talks to people and scripts. stdout carries results: lines, tables and the
// one-line JSON summaries that scripts and tests parse. stderr carries notes, progress and usage
// or error messages, so `X=$(bitpredict ...)` takes the result and still shows what went wrong.
// cli/main.ts creates it on the process's streams and hands it to every command in its
// CommandContext; tests may pass other streams.

/** Where text goes; looked up on every write, so a test that replaces `process.stdout.write` still sees it. */
export interface TextSink {
  write(chunk: string): unknown;
}

export interface Output {
  /** A result line on stdout (a newline is added). */
  line(text: string): void;
  /** Result text on stdout exactly as given: a table or block that carries its own newlines. */
  text(block: string): void;
  /** One value as one JSON line on stdout: the summaries scripts parse. */
  json(value: unknown): void;
  /** A note or progress line on stderr (a newline is added). */
  note(text: string): void;
  /** Progress on stderr exactly as given: a bar redrawn in place ("\r...") ends without a newline. */
  progress(chunk: string): void;
  /** A usage or error message on stderr (a newline is added). */
  error(text: string): void;
}

export function createOutput(streams: { stdout: TextSink; stderr: TextSink }): Output {
  return {
    line: (text) => void streams.stdout.write(`${text}\n`),
    text: (block) => void streams.stdout.write(block),
    json: (value) => void streams.stdout.write(`${JSON.stringify(value)}\n`),
    note: (text) => void streams.stderr.write(`${text}\n`),
    progress: (chunk) => void streams.stderr.write(chunk),
    error: (text) => void streams.stderr.write(`${text}\n`),
  };
}

/** Rows as left-aligned columns two spaces apart, the first row the header; ends with a newline (for Output.text). */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return (
    rows
      .map((row) =>
        row
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
