#!/usr/bin/env node
// `bitpredict <command>`: one CLI in front of every entrypoint (the table: cli/commands.ts; from
// argv to exit code: cli/cli.ts).
import { createOutput } from './output.js';
import { ALIASES, COMMANDS } from './commands.js';
import { runCli } from './cli.js';
import { redactText } from '../core/redact.js';

const output = createOutput({ stdout: process.stdout, stderr: process.stderr });

runCli(process.argv.slice(2), { commands: COMMANDS, aliases: ALIASES, output, env: process.env }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // runCli answers every error of a command; what reaches here is a bug in the CLI itself.
    output.error(redactText(`bitpredict: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`));
    process.exitCode = 1;
  },
);
