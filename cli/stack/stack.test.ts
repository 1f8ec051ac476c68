import { chmodSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigKey } from '../../core/config.js';
import { loadStackConfig, type StackConfigKey } from './config.js';
import { createLogger } from '../../core/logger.js';
import { resolveLayout } from './layout.js';
import { writePidFile } from './pidfile.js';
import { newClusterId } from './kafka.js';
import { ensureRedis, redisNotInstalledMessage } from './redis.js';
import { createStack } from './stack.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

async function serve(onSocket: (s: Socket) => void): Promise<number> {
  const server = createServer((s) => {
    sockets.push(s);
    onSocket(s);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'bp-stack-'));
}

function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

async function setup(overrides: Partial<Record<ConfigKey | StackConfigKey, string>> = {}) {
  const dir = tmp();
  const config = loadStackConfig(
    {},
    {
      BITPREDICT_STACK_DIR: dir,
      BITPREDICT_KAFKA_BROKERS: `127.0.0.1:${await closedPort()}`,
      BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: String(await closedPort()),
      BITPREDICT_REGISTRY_URL: `http://127.0.0.1:${await closedPort()}/apis/ccompat/v7`,
      BITPREDICT_STACK_REGISTRY_MANAGEMENT_PORT: String(await closedPort()),
      // The secure servers' ports too: a secured stack running on this machine must not show up here.
      BITPREDICT_STACK_REGISTRY_SECURE_PORT: String(await closedPort()),
      BITPREDICT_STACK_REDIS_SECURE_PORT: String(await closedPort()),
      BITPREDICT_REDIS_URL: `redis://127.0.0.1:${await closedPort()}`,
      BITPREDICT_STACK_START_TIMEOUT_MS: '1000',
      ...overrides,
    },
  );
  return { dir, config, layout: resolveLayout(config, dir) };
}

const quiet = createLogger({ level: 'silent' });

describe('newClusterId', () => {
  it('gives 22 base64url characters', () => {
    for (let i = 0; i < 50; i++) expect(newClusterId()).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('never starts with "-" (Kafka refuses such ids on the command line)', () => {
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
    const id = newClusterId(() => draws.shift() ?? Buffer.alloc(16, 0x02));
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
    expect(id).toBe(Buffer.alloc(16, 0x01).toString('base64url'));
  });
});

describe('ensureRedis', () => {
  it('names the missing redis-server and how to install it', async () => {
    const { layout } = await setup();
    const said: string[] = [];
    const err = await ensureRedis({ layout, redisServer: join(tmp(), 'no-such-redis-server'), say: (l) => said.push(l) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_STACK' });
    expect((err as Error).message).toBe(
      `Redis is not answering on 127.0.0.1:${layout.redis.listen.port} and redis-server is not installed (apt-get install redis-server)`,
    );
    expect((err as Error).message).toBe(redisNotInstalledMessage(layout.redis.listen));
  });

  it('reuses a Redis that answers PING and does not own it (never runs redis-server)', async () => {
    const port = await serve((s) => s.on('data', () => s.write('+PONG\r\n')));
    const { layout } = await setup({ BITPREDICT_REDIS_URL: `redis://127.0.0.1:${port}` });
    const said: string[] = [];
    const status = await ensureRedis({ layout, redisServer: '/nonexistent/redis-server', say: (l) => said.push(l) });
    expect(status).toMatchObject({ name: 'redis', state: 'running', owned: false, pid: null, action: 'reused' });
    expect(said.join('\n')).toMatch(/reusing the Redis already answering/);
  });

  it('refuses a port held by something that is not Redis', async () => {
    const port = await serve((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const { layout } = await setup({ BITPREDICT_REDIS_URL: `redis://127.0.0.1:${port}` });
    await expect(ensureRedis({ layout, redisServer: '/nonexistent/redis-server', say: () => undefined })).rejects.toThrow(
      `127.0.0.1:${port} is taken by a process that does not answer like Redis`,
    );
  });

  it('asks for the password when Redis wants one', async () => {
    const port = await serve((s) => s.on('data', () => s.write('-NOAUTH Authentication required.\r\n')));
    const { layout } = await setup({ BITPREDICT_REDIS_URL: `redis://127.0.0.1:${port}` });
    await expect(ensureRedis({ layout, redisServer: '/nonexistent/redis-server', say: () => undefined })).rejects.toThrow(
      /wants a password: put it in BITPREDICT_REDIS_URL/,
    );
  });

  it('reports the exit and output of a redis-server that refuses to start', async () => {
    const { layout } = await setup();
    const fake = script(tmp(), 'redis-server', 'echo "*** FATAL CONFIG FILE ERROR: Bad directive" >&2\nexit 1');
    await expect(ensureRedis({ layout, redisServer: fake, say: () => undefined })).rejects.toThrow(
      /redis-server failed to start \(exit 1\): \*\*\* FATAL CONFIG FILE ERROR/,
    );
  });

  it('gives up after the start timeout with the log tail when Redis never answers', async () => {
    const { layout } = await setup();
    const fake = script(
      tmp(),
      'redis-server',
      'while [ $# -gt 0 ]; do if [ "$1" = "--logfile" ]; then log="$2"; fi; shift; done\nfor i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do echo "fake line $i" >> "$log"; done\nexit 0',
    );
    const err = (await ensureRedis({ layout, redisServer: fake, say: () => undefined }).catch((e: unknown) => e)) as Error;
    expect(err.message).toContain(`Redis did not answer PING on 127.0.0.1:${layout.redis.listen.port} within 1 s. Last 20 lines of ${layout.redis.logFile}:`);
    expect(err.message).toContain('fake line 25');
    expect(err.message).toContain('fake line 6');
    expect(err.message).not.toContain('fake line 5\n');
  });
});

describe('createStack without servers', () => {
  it('status: everything stopped, not all up, nothing owned', async () => {
    const { dir, config } = await setup();
    const stack = createStack({ config, logger: quiet, rootDir: dir });
    const status = await stack.status();
    expect(status.allUp).toBe(false);
    expect(status.services.map((s) => [s.name, s.state, s.owned, s.pid])).toEqual([
      ['kafka', 'stopped', false, null],
      ['registry', 'stopped', false, null],
      ['redis', 'stopped', false, null],
    ]);
    await stack.close();
  });

  it('status: a port held by another program is reported as foreign', async () => {
    const port = await serve((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const { dir, config } = await setup({ BITPREDICT_KAFKA_BROKERS: `127.0.0.1:${port}` });
    const status = await createStack({ config, logger: quiet, rootDir: dir }).status();
    expect(status.services[0]).toMatchObject({ name: 'kafka', state: 'foreign', owned: false });
  });

  it('down removes stale pid files without signalling anyone and leaves an external Redis alone', async () => {
    const redisPort = await serve((s) => s.on('data', () => s.write('+PONG\r\n')));
    const { dir, config, layout } = await setup({ BITPREDICT_REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    // A pid far above any live one on a test box, and this test's own pid (alive, but not Kafka).
    writePidFile(layout.kafka.pidFile, 4_000_000);
    writePidFile(layout.registry.pidFile, process.pid);
    const said: string[] = [];
    await createStack({ config, logger: quiet, rootDir: dir, progress: (l) => said.push(l) }).down();
    expect(existsSync(layout.kafka.pidFile)).toBe(false);
    expect(existsSync(layout.registry.pidFile)).toBe(false);
    expect(said.join('\n')).toMatch(/kafka: removed stale pid file \(pid 4000000 is gone\)/);
    expect(said.join('\n')).toMatch(/leaving the Redis on 127\.0\.0\.1:\d+ alone/);
  });

  it('down --purge deletes the Kafka data, cluster id and registry database, but keeps the fetched jars', async () => {
    const { dir, config, layout } = await setup();
    mkdirSync(layout.kafka.dataDir, { recursive: true });
    mkdirSync(layout.registry.dataDir, { recursive: true });
    mkdirSync(layout.kafka.libsDir, { recursive: true });
    writeFileSync(join(layout.kafka.dataDir, 'meta.properties'), 'cluster.id=abc\n');
    writeFileSync(join(layout.registry.dataDir, 'registry.mv.db'), '');
    writeFileSync(layout.kafka.clusterIdFile, 'abc\n');
    writeFileSync(layout.kafka.marker, 'kafka_2.13-4.1.1.jar\n');
    await createStack({ config, logger: quiet, rootDir: dir }).down({ purge: true });
    expect(existsSync(layout.kafka.dataDir)).toBe(false);
    expect(existsSync(layout.kafka.clusterIdFile)).toBe(false);
    expect(existsSync(layout.registry.dataDir)).toBe(false);
    expect(existsSync(layout.kafka.marker)).toBe(true);
  });

  it('down without --purge keeps the data', async () => {
    const { dir, config, layout } = await setup();
    mkdirSync(layout.kafka.dataDir, { recursive: true });
    mkdirSync(layout.registry.dataDir, { recursive: true });
    await createStack({ config, logger: quiet, rootDir: dir }).down();
    expect(existsSync(layout.kafka.dataDir)).toBe(true);
    expect(existsSync(layout.registry.dataDir)).toBe(true);
  });

  it('up fails with one clear line when no java exists, before any download', async () => {
    const redisPort = await serve((s) => s.on('data', () => s.write('+PONG\r\n')));
    const { dir, config, layout } = await setup({ BITPREDICT_REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    const stack = createStack({ config, logger: quiet, rootDir: dir, tools: { java: join(dir, 'no-java'), mvn: join(dir, 'no-mvn') }, jdkDirs: [] });
    await expect(stack.up()).rejects.toThrow(/^java was not found on PATH: install a JDK 17 or newer/);
    expect(existsSync(layout.kafka.homeDir)).toBe(false);
  });

  it('up fails with one clear line when mvn is missing and nothing is fetched yet', async () => {
    const redisPort = await serve((s) => s.on('data', () => s.write('+PONG\r\n')));
    const { dir, config } = await setup({ BITPREDICT_REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    const fakeJava = script(tmp(), 'java', 'echo \'openjdk version "21.0.2" 2024-01-16\' >&2');
    const stack = createStack({ config, logger: quiet, rootDir: dir, tools: { java: fakeJava, mvn: join(dir, 'no-mvn') }, jdkDirs: [] });
    await expect(stack.up()).rejects.toThrow(/^mvn was not found on PATH: install Maven .*\(apt-get install maven\)/);
  });

  it('up refuses a Kafka port held by another program before downloading anything', async () => {
    const port = await serve((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\n\r\n')));
    const redisPort = await serve((s) => s.on('data', () => s.write('+PONG\r\n')));
    const { dir, config, layout } = await setup({ BITPREDICT_KAFKA_BROKERS: `127.0.0.1:${port}`, BITPREDICT_REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    const stack = createStack({ config, logger: quiet, rootDir: dir, tools: { java: join(dir, 'no-java'), mvn: join(dir, 'no-mvn') }, jdkDirs: [] });
    await expect(stack.up()).rejects.toThrow(`127.0.0.1:${port} is taken by a process that does not answer like Kafka`);
    expect(existsSync(layout.kafka.homeDir)).toBe(false);
  });
});

describe('createStack.up against fake servers (reuse, no start)', () => {
  it('reuses answering servers without java or mvn, cleans a stale pid file and reports them as external', async () => {
    const kafkaPort = await serve((s) =>
      s.on('data', (req: Buffer) => {
        const res = Buffer.alloc(14);
        res.writeInt32BE(10, 0);
        res.writeInt32BE(req.readInt32BE(8), 4);
        s.write(res);
      }),
    );
    const registryPort = await serve((s) => s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]')));
    const redisPort = await serve((s) => s.on('data', () => s.write('+PONG\r\n')));
    const { dir, config, layout } = await setup({
      BITPREDICT_KAFKA_BROKERS: `127.0.0.1:${kafkaPort}`,
      BITPREDICT_REGISTRY_URL: `http://127.0.0.1:${registryPort}/apis/ccompat/v7`,
      BITPREDICT_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    });
    writePidFile(layout.kafka.pidFile, 4_000_000);
    const said: string[] = [];
    const stack = createStack({
      config,
      logger: quiet,
      rootDir: dir,
      tools: { java: join(dir, 'no-java'), mvn: join(dir, 'no-mvn') },
      jdkDirs: [],
      progress: (l) => said.push(l),
    });
    const status = await stack.up();
    expect(status.allUp).toBe(true);
    expect(status.services.map((s) => [s.name, s.action, s.owned, s.pid])).toEqual([
      ['kafka', 'reused', false, null],
      ['registry', 'reused', false, null],
      ['redis', 'reused', false, null],
    ]);
    expect(existsSync(layout.kafka.pidFile)).toBe(false);
    expect(existsSync(layout.kafka.homeDir)).toBe(false);
    expect(existsSync(layout.kafka.propertiesFile)).toBe(false);
    expect(said.join('\n')).toMatch(/kafka: removed stale pid file .* \(pid 4000000 is gone\)/);
    expect(said.join('\n')).toMatch(/kafka: reusing the Kafka already answering/);
  });
});
