// Integration and end-to-end tests need the real stack. If it is not up, bring it up for the run
// (and take down what this run started afterwards), so `npm test` works on its own; when it is
// already up (CI runs `npm run stack:up` first, developers usually keep it running) nothing changes.
import { loadStackConfig } from '../cli/stack/config.js';
import { createLogger } from '../core/logger.js';
import { createStack } from '../cli/stack/stack.js';
import { REPO_ROOT } from './helpers/platform.js';

export default async function setup(): Promise<() => Promise<void>> {
  const config = loadStackConfig(process.env);
  const stack = createStack({
    config,
    logger: createLogger({ level: 'warn', name: 'test-stack' }),
    rootDir: REPO_ROOT,
    progress: (line) => process.stderr.write(`stack: ${line}\n`),
    javaHome: config.stack.javaHome,
  });
  // CI runs every test, the secured stack's too (test/integration/secure-stack.test.ts fails
  // without it), so there the stack must be up in secure mode (stack up --secure).
  const wantSecure = process.env.CI === 'true';
  const before = await stack.status();
  const secureUp = before.services.some((s) => s.name === 'redis-tls' && s.state === 'running');
  if (before.allUp && (!wantSecure || secureUp)) {
    await stack.close();
    return async () => {};
  }
  process.stderr.write(
    `stack: not running${wantSecure ? ' in secure mode' : ''}; starting it for this test run (npm run stack:up${wantSecure ? ' -- --secure' : ''} keeps it up between runs)\n`,
  );
  const after = await stack.up({ secure: wantSecure });
  const started = after.services.some((s) => s.action === 'started');
  return async () => {
    if (started) await stack.down();
    await stack.close();
  };
}
