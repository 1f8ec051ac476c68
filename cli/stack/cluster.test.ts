import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigKey } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { clusterLayout, clusterModeFile, parseBrokerCount, readClusterSize, renderClusterClientEnv, renderClusterNodeProperties } from './cluster.js';
import { parseUpArgs } from './command.js';
import { loadStackConfig, type StackConfigKey } from './config.js';
import { renderServerProperties, resolveLayout } from './layout.js';
import { createStack } from './stack.js';

const SECRETS = { keystorePassword: 'ks-pass', userPassword: 'user-pass' };

function layoutWith(overrides: Partial<Record<ConfigKey | StackConfigKey, string>> = {}) {
  return resolveLayout(loadStackConfig({}, overrides), '/repo');
}

function props(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    const key = line.slice(0, i);
    expect(out.has(key), `duplicate key ${key}`).toBe(false);
    out.set(key, line.slice(i + 1));
  }
  return out;
}

describe('clusterLayout', () => {
  it('puts node i on the single broker ports + 100 * (i - 1), each with its own config, data, logs and pid file', () => {
    const c = clusterLayout(layoutWith(), 3);
    expect(c.nodes.map((n) => n.listen.port)).toEqual([9092, 9192, 9292]);
    expect(c.nodes.map((n) => n.controller.port)).toEqual([9093, 9193, 9293]);
    expect(c.nodes.map((n) => n.name)).toEqual(['kafka-1', 'kafka-2', 'kafka-3']);
    expect(c.nodes[1]?.propertiesFile).toBe('/repo/.stack/kafka/node-2/server.properties');
    expect(c.nodes[1]?.dataDir).toBe('/repo/.stack/kafka/node-2/data');
    expect(c.nodes[1]?.serverLog).toBe('/repo/.stack/logs/kafka-2/kafka-server.log');
    expect(c.nodes[1]?.pidFile).toBe('/repo/.stack/pids/kafka-2.pid');
    expect(new Set(c.nodes.map((n) => n.dataDir)).size).toBe(3);
    expect(c.bootstrap).toBe('127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292');
    expect(c.minInsync).toBe(2);
    expect(c.clientEnv).toBe('/repo/.stack/kafka/cluster.env');
  });

  it('follows the configured base ports and heap', () => {
    const c = clusterLayout(
      layoutWith({ BITPREDICT_KAFKA_BROKERS: '127.0.0.1:39092', BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: '39093', BITPREDICT_STACK_KAFKA_HEAP: '256m' }),
      3,
    );
    expect(c.bootstrap).toBe('127.0.0.1:39092,127.0.0.1:39192,127.0.0.1:39292');
    expect(c.nodes.map((n) => n.controller.port)).toEqual([39093, 39193, 39293]);
    expect(c.heap).toBe('256m');
  });

  it('refuses ports that collide across nodes or pass 65535, and sizes outside 2..5', () => {
    // Controller 100 above the broker: node 2's broker port is node 1's controller port.
    expect(() => clusterLayout(layoutWith({ BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: '9192' }), 3)).toThrow(/9192 is also broker 1's controller port/);
    expect(() => clusterLayout(layoutWith({ BITPREDICT_KAFKA_BROKERS: '127.0.0.1:65400', BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: '65401' }), 3)).toThrow(
      /above 65535/,
    );
    expect(() => clusterLayout(layoutWith(), 1)).toThrow(/2 to 5 brokers/);
    expect(() => clusterLayout(layoutWith(), 6)).toThrow(/2 to 5 brokers/);
  });
});

describe('renderClusterNodeProperties', () => {
  const c = clusterLayout(layoutWith(), 3);
  const all = c.nodes.map((n) => props(renderClusterNodeProperties(c, n)));

  it('makes every topic, the internal ones included, replication factor 3 with min.insync.replicas 2', () => {
    for (const p of all) {
      expect(p.get('default.replication.factor')).toBe('3');
      expect(p.get('min.insync.replicas')).toBe('2');
      expect(p.get('offsets.topic.replication.factor')).toBe('3');
      expect(p.get('transaction.state.log.replication.factor')).toBe('3');
      expect(p.get('transaction.state.log.min.isr')).toBe('2');
      expect(p.get('share.coordinator.state.topic.replication.factor')).toBe('3');
      expect(p.get('share.coordinator.state.topic.min.isr')).toBe('2');
      expect(p.get('unclean.leader.election.enable')).toBe('false');
      expect(p.get('auto.create.topics.enable')).toBe('false');
    }
  });

  it('gives each node its id and listeners, and all of them the same static quorum of every node', () => {
    expect(all.map((p) => p.get('node.id'))).toEqual(['1', '2', '3']);
    expect(all.map((p) => p.get('process.roles'))).toEqual(['broker,controller', 'broker,controller', 'broker,controller']);
    for (const p of all) expect(p.get('controller.quorum.voters')).toBe('1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293');
    expect(all[2]?.get('listeners')).toBe('PLAINTEXT://127.0.0.1:9292,CONTROLLER://127.0.0.1:9293');
    expect(all[2]?.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:9292');
    expect(all[2]?.get('log.dirs')).toBe('/repo/.stack/kafka/node-3/data');
    // A dynamic-quorum key beside the static voters would make Kafka refuse to start.
    for (const p of all) expect(p.has('controller.quorum.bootstrap.servers')).toBe(false);
  });

  it('two brokers keep min.insync.replicas 1 (one down must not stop writes)', () => {
    const two = clusterLayout(layoutWith(), 2);
    const p = props(renderClusterNodeProperties(two, two.nodes[0] as (typeof two.nodes)[number]));
    expect(p.get('default.replication.factor')).toBe('2');
    expect(p.get('min.insync.replicas')).toBe('1');
  });

  it('leaves the single broker as it was: replication factor 1 everywhere', () => {
    const p = props(renderServerProperties(layoutWith(), SECRETS));
    expect(p.get('default.replication.factor')).toBe('1');
    expect(p.get('offsets.topic.replication.factor')).toBe('1');
    expect(p.get('listeners')).toMatch(/^PLAINTEXT:\/\/127\.0\.0\.1:9092,/);
  });

  it('writes the client settings: every broker in the bootstrap list, replication factor 3', () => {
    expect(renderClusterClientEnv(c)).toContain('\nBITPREDICT_KAFKA_BROKERS=127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292\nBITPREDICT_TOPIC_REPLICATION=3\n');
  });
});

describe('--brokers', () => {
  it('parses a count from 1 to 5 and refuses anything else', () => {
    expect(parseBrokerCount('3')).toBe(3);
    expect(parseBrokerCount('1')).toBe(1);
    for (const bad of [undefined, '', '0', '6', '-1', '3.5', 'three', '03x', '999']) expect(() => parseBrokerCount(bad), String(bad)).toThrow(/--brokers/);
  });

  it('reads up options: --secure, --brokers N, --brokers=N; anything else or a repeat is a usage error', () => {
    expect(parseUpArgs([])).toEqual({ secure: false });
    expect(parseUpArgs(['--brokers', '3'])).toEqual({ secure: false, brokers: 3 });
    expect(parseUpArgs(['--brokers=3'])).toEqual({ secure: false, brokers: 3 });
    expect(parseUpArgs(['--secure'])).toEqual({ secure: true });
    expect(parseUpArgs(['--purge'])).toBeNull();
    expect(parseUpArgs(['--brokers', '3', '--brokers', '3'])).toBeNull();
    expect(() => parseUpArgs(['--brokers'])).toThrow(/--brokers/);
    expect(() => parseUpArgs(['--brokers', 'x'])).toThrow(/--brokers/);
  });
});

describe('stack in cluster mode', () => {
  function stackIn(dir: string) {
    const config = loadStackConfig(
      {},
      {
        BITPREDICT_STACK_DIR: dir,
        // Ports nothing listens on: the probes find every node stopped.
        BITPREDICT_KAFKA_BROKERS: '127.0.0.1:1',
        BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: '2',
        BITPREDICT_REGISTRY_URL: 'http://127.0.0.1:3/apis/ccompat/v7',
        BITPREDICT_REDIS_URL: 'redis://127.0.0.1:4',
        BITPREDICT_STACK_REGISTRY_SECURE_PORT: '5',
        BITPREDICT_STACK_REDIS_SECURE_PORT: '6',
        BITPREDICT_STACK_REGISTRY_MANAGEMENT_PORT: '7',
      },
    );
    return createStack({ config, logger: createLogger({ level: 'silent' }), rootDir: dir });
  }

  it('refuses --secure with --brokers before starting anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-cluster-'));
    await expect(stackIn(dir).up({ secure: true, brokers: 3 })).rejects.toThrow(/single broker only/);
    expect(existsSync(join(dir, 'logs'))).toBe(false);
  });

  it('keeps the recorded size until down: status lists each node, another size is refused, down clears the mode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-cluster-'));
    const stack = stackIn(dir);
    mkdirSync(join(dir, 'kafka'), { recursive: true });
    writeFileSync(clusterModeFile(stack.layout), '3\n');
    expect(readClusterSize(stack.layout)).toBe(3);
    const status = await stack.status();
    expect(status.services.map((s) => s.name)).toEqual(['kafka-1', 'kafka-2', 'kafka-3', 'registry', 'redis']);
    expect(status.services.slice(0, 3).map((s) => s.address)).toEqual(['127.0.0.1:1', '127.0.0.1:101', '127.0.0.1:201']);
    expect(status.allUp).toBe(false);
    expect(stack.cluster()?.cluster.size).toBe(3);
    await expect(stack.up({ brokers: 1 })).rejects.toThrow(/runs a cluster of 3 brokers; stop it first/);
    await stack.down();
    expect(readClusterSize(stack.layout)).toBeNull();
    expect(stack.cluster()).toBeNull();
    expect((await stack.status()).services.map((s) => s.name)).toEqual(['kafka', 'registry', 'redis']);
  });
});
