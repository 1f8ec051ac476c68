// One ordered shutdown path for SIGTERM, SIGINT and fatal errors. Components register their
// close steps in start order; shutdown runs them in reverse (not ready -> stop intake -> drain ->
// commit -> disconnect -> close Redis -> flush logs), each step bounded by what is left of a
// single deadline, so a stuck step cannot keep the process alive forever.
import type { Logger } from './logger.js';

export interface Lifecycle {
  /** Register a close step; steps run in reverse registration order. */
  onShutdown(name: string, step: () => Promise<void> | void): void;
  /** Readiness flag for /readyz: false before start completes and as soon as shutdown begins. */
  readonly ready: boolean;
  setReady(ready: boolean): void;
  readonly shuttingDown: boolean;
  /** Runs the steps once; later calls return the same promise. Resolves to true when every step finished in time. */
  shutdown(reason: string): Promise<boolean>;
  /** Resolves when shutdown has finished. */
  readonly done: Promise<boolean>;
  /** Wires SIGTERM, SIGINT, uncaughtException and unhandledRejection to shutdown; exits the process afterwards. */
  installSignalHandlers(options?: { exit?: boolean }): void;
}

export function createLifecycle(deps: { logger: Logger; timeoutMs: number }): Lifecycle {
  const { logger, timeoutMs } = deps;
  const steps: { name: string; step: () => Promise<void> | void }[] = [];
  let ready = false;
  let shutdownPromise: Promise<boolean> | null = null;
  let resolveDone: (ok: boolean) => void = () => {};
  const done = new Promise<boolean>((resolve) => {
    resolveDone = resolve;
  });

  async function runSteps(reason: string): Promise<boolean> {
    ready = false;
    const deadline = Date.now() + timeoutMs;
    logger.info({ reason, steps: steps.length }, 'shutting down');
    let ok = true;
    for (const { name, step } of [...steps].reverse()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        logger.error({ step: name }, 'shutdown deadline passed; skipping remaining steps');
        ok = false;
        break;
      }
      let timer: NodeJS.Timeout | undefined;
      try {
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left);
        });
        const result = await Promise.race([Promise.resolve().then(step), timedOut]);
        if (result === 'timeout') {
          logger.error({ step: name, timeoutMs }, 'shutdown step did not finish before the deadline');
          ok = false;
          break;
        }
        logger.debug({ step: name }, 'shutdown step done');
      } catch (err) {
        ok = false;
        logger.error({ step: name, err }, 'shutdown step failed');
      } finally {
        if (timer) clearTimeout(timer);
      }
    }
    logger.info({ ok }, 'shutdown complete');
    return ok;
  }

  const lifecycle: Lifecycle = {
    onShutdown(name, step) {
      steps.push({ name, step });
    },
    get ready() {
      return ready;
    },
    setReady(value) {
      ready = value && shutdownPromise === null;
    },
    get shuttingDown() {
      return shutdownPromise !== null;
    },
    shutdown(reason) {
      if (!shutdownPromise) {
        shutdownPromise = runSteps(reason).then((ok) => {
          resolveDone(ok);
          return ok;
        });
      }
      return shutdownPromise;
    },
    done,
    installSignalHandlers(options = {}) {
      const exit = options.exit ?? true;
      const finish = (reason: string, code: number): void => {
        void lifecycle.shutdown(reason).then((ok) => {
          logger.flush();
          if (exit) process.exit(ok ? code : Math.max(code, 1));
        });
      };
      process.once('SIGTERM', () => finish('SIGTERM', 0));
      process.once('SIGINT', () => finish('SIGINT', 0));
      process.on('uncaughtException', (err) => {
        logger.fatal({ err }, 'uncaught exception');
        finish('uncaughtException', 1);
      });
      process.on('unhandledRejection', (err) => {
        logger.fatal({ err }, 'unhandled rejection');
        finish('unhandledRejection', 1);
      });
    },
  };
  return lifecycle;
}
