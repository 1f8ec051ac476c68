// Local servers a test starts for itself: a free port, and a throwaway redis-server it may kill
// and start again (never the shared Redis on 6379).
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { waitFor } from './platform.js';

/** A free TCP port on 127.0.0.1 (the OS picks it; closed again before it is used). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A redis-server on `port` with nothing saved to disk, started again empty after each kill. */
export interface ThrowawayRedis {
  /** Starts it and waits until it answers PING. */
  start(): Promise<void>;
  /** SIGKILLs it (nothing when it is not running) and waits for the exit. */
  kill(): Promise<void>;
}

export function throwawayRedis(port: number): ThrowawayRedis {
  let child: ChildProcess | null = null;
  return {
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      await waitFor(
        () =>
          new Promise<boolean>((resolve) => {
            const s = createConnection({ host: '127.0.0.1', port }, () => s.write('PING\r\n'));
            s.once('data', (d) => {
              s.destroy();
              resolve(d.toString().startsWith('+PONG'));
            });
            s.once('error', () => resolve(false));
          }),
        `redis-server on ${port}`,
        10_000,
      );
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
  };
}
