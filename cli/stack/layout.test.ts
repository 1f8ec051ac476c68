import { describe, expect, it } from 'vitest';
import type { ConfigKey } from '../../core/config.js';
import { loadStackConfig, type StackConfigKey } from './config.js';
import { formatHostPort, parseHostPort, renderServerProperties, resolveLayout } from './layout.js';

const ROOT = '/repo';
const SECRETS = { keystorePassword: 'ks-pass', userPassword: 'user-pass' };

function layoutWith(overrides: Partial<Record<ConfigKey | StackConfigKey, string>> = {}) {
  return resolveLayout(loadStackConfig({}, overrides), ROOT);
}

/** server.properties as a key -> value map; fails on duplicate keys, which Kafka would silently resolve. */
function parseProps(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf('=');
    expect(i, `line without "=": ${line}`).toBeGreaterThan(0);
    const key = line.slice(0, i);
    expect(out.has(key), `duplicate key ${key}`).toBe(false);
    out.set(key, line.slice(i + 1));
  }
  return out;
}

describe('resolveLayout', () => {
  it('puts everything under <root>/.stack by default and derives addresses from config', () => {
    const l = layoutWith();
    expect(l.dir).toBe('/repo/.stack');
    expect(l.kafka.libsDir).toBe('/repo/.stack/kafka-4.1.1/libs');
    expect(l.kafka.propertiesFile).toBe('/repo/.stack/kafka/server.properties');
    expect(l.kafka.dataDir).toBe('/repo/.stack/kafka/data');
    expect(l.kafka.pidFile).toBe('/repo/.stack/pids/kafka.pid');
    expect(l.registry.homeDir).toBe('/repo/.stack/apicurio-3.3.3');
    expect(l.pomFile).toBe('/repo/deployment/local/pom.xml');
    expect(l.log4jFile).toBe('/repo/deployment/local/log4j2.properties');
    expect(l.kafka.listen).toEqual({ host: '127.0.0.1', port: 9092 });
    expect(l.kafka.controller).toEqual({ host: '127.0.0.1', port: 9093 });
    expect(l.registry.listen).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(l.registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(l.registry.managementPort).toBe(8091);
    expect(l.redis.listen).toEqual({ host: '127.0.0.1', port: 6379 });
    expect(l.redis.password).toBeNull();
  });

  it('follows overridden ports, versions, an absolute stack dir and a Redis password', () => {
    const l = layoutWith({
      BITPREDICT_STACK_DIR: '/var/tmp/bp',
      BITPREDICT_KAFKA_BROKERS: '127.0.0.1:29092,127.0.0.1:39092',
      BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: '29093',
      BITPREDICT_STACK_KAFKA_VERSION: '4.0.0',
      BITPREDICT_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7/',
      BITPREDICT_REDIS_URL: 'redis://:s%40cret@127.0.0.1:16379',
    });
    expect(l.dir).toBe('/var/tmp/bp');
    expect(l.kafka.homeDir).toBe('/var/tmp/bp/kafka-4.0.0');
    expect(l.kafka.listen.port).toBe(29092);
    expect(l.kafka.controller.port).toBe(29093);
    expect(l.registry.listen.port).toBe(18081);
    expect(l.registry.url).toBe('http://127.0.0.1:18081/apis/ccompat/v7');
    expect(l.redis.listen.port).toBe(16379);
    expect(l.redis.password).toBe('s@cret');
  });

  it('uses the scheme default port when the URL has none', () => {
    const l = layoutWith({ BITPREDICT_REGISTRY_URL: 'http://127.0.0.1/apis/ccompat/v7', BITPREDICT_REDIS_URL: 'redis://127.0.0.1' });
    expect(l.registry.listen.port).toBe(80);
    expect(l.redis.listen.port).toBe(6379);
  });

  it('refuses a registry URL with a scheme the stack cannot serve', () => {
    expect(() => layoutWith({ BITPREDICT_REGISTRY_URL: 'https://127.0.0.1/apis/ccompat/v7' })).toThrow(/unsupported scheme "https:"/);
    expect(() => layoutWith({ BITPREDICT_REDIS_URL: 'rediss://127.0.0.1' })).toThrow(/BITPREDICT_REDIS_URL: unsupported scheme/);
  });
});

describe('parseHostPort', () => {
  it('parses host:port and bracketed IPv6', () => {
    expect(parseHostPort('127.0.0.1:9092', 'K')).toEqual({ host: '127.0.0.1', port: 9092 });
    expect(parseHostPort('[::1]:9092', 'K')).toEqual({ host: '::1', port: 9092 });
    expect(formatHostPort({ host: '::1', port: 9092 })).toBe('[::1]:9092');
  });

  it.each(['127.0.0.1', '127.0.0.1:', ':9092', '127.0.0.1:0', '127.0.0.1:70000', '127.0.0.1:90x', ''])('rejects %j with ERR_STACK naming the key', (bad) => {
    expect(() => parseHostPort(bad, 'BITPREDICT_KAFKA_BROKERS')).toThrow(
      expect.objectContaining({ code: 'ERR_STACK', message: expect.stringContaining('BITPREDICT_KAFKA_BROKERS') as unknown }),
    );
  });
});

describe('renderServerProperties', () => {
  it('renders a single-node KRaft broker+controller on the configured addresses', () => {
    const props = parseProps(renderServerProperties(layoutWith(), SECRETS));
    expect(props.get('process.roles')).toBe('broker,controller');
    expect(props.get('node.id')).toBe('1');
    expect(props.get('controller.quorum.bootstrap.servers')).toBe('127.0.0.1:9093');
    expect(props.has('controller.quorum.voters')).toBe(false);
    expect(props.get('listeners')).toBe('PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:9094');
    expect(props.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:9092,SASL_SSL://127.0.0.1:9094');
    expect(props.get('controller.listener.names')).toBe('CONTROLLER');
    expect(props.get('log.dirs')).toBe('/repo/.stack/kafka/data');
    expect(props.get('num.partitions')).toBe('3');
    expect(props.get('auto.create.topics.enable')).toBe('false');
    expect(props.get('group.initial.rebalance.delay.ms')).toBe('0');
  });

  it('sets replication factor and min ISR 1 for every internal topic', () => {
    const props = parseProps(renderServerProperties(layoutWith(), SECRETS));
    for (const key of [
      'offsets.topic.replication.factor',
      'transaction.state.log.replication.factor',
      'transaction.state.log.min.isr',
      'share.coordinator.state.topic.replication.factor',
      'share.coordinator.state.topic.min.isr',
      'default.replication.factor',
      'min.insync.replicas',
    ]) {
      expect(props.get(key), key).toBe('1');
    }
    // No replication setting anywhere may exceed the single node.
    for (const [key, value] of props) {
      if (/replication\.factor|min\.isr|insync/.test(key)) expect(value, key).toBe('1');
    }
  });

  it('follows custom ports and stack dir', () => {
    const props = parseProps(
      renderServerProperties(
        layoutWith({
          BITPREDICT_KAFKA_BROKERS: '127.0.0.1:19092',
          BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: '19093',
          BITPREDICT_STACK_KAFKA_SECURE_PORT: '19094',
          BITPREDICT_STACK_DIR: 'tmp/stack-b',
        }),
        SECRETS,
      ),
    );
    expect(props.get('listeners')).toBe('PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093,SASL_SSL://127.0.0.1:19094');
    expect(props.get('advertised.listeners')).toBe('PLAINTEXT://127.0.0.1:19092,SASL_SSL://127.0.0.1:19094');
    expect(props.get('controller.quorum.bootstrap.servers')).toBe('127.0.0.1:19093');
    expect(props.get('log.dirs')).toBe('/repo/tmp/stack-b/kafka/data');
  });

  it('adds a SASL_SSL listener with the stack CA keystore and every SASL mechanism, plaintext staying the inter-broker listener', () => {
    const props = parseProps(renderServerProperties(layoutWith(), SECRETS));
    expect(props.get('listener.security.protocol.map')).toBe('CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL');
    expect(props.get('inter.broker.listener.name')).toBe('PLAINTEXT');
    expect(props.get('sasl.enabled.mechanisms')).toBe('PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER');
    expect(props.get('ssl.keystore.location')).toBe('/repo/.stack/secure/broker.p12');
    expect(props.get('ssl.keystore.password')).toBe('ks-pass');
    expect(props.get('listener.name.sasl_ssl.plain.sasl.jaas.config')).toBe(
      'org.apache.kafka.common.security.plain.PlainLoginModule required user_bitpredict="user-pass";',
    );
    for (const m of ['scram-sha-256', 'scram-sha-512', 'oauthbearer']) expect(props.has(`listener.name.sasl_ssl.${m}.sasl.jaas.config`), m).toBe(true);
  });

  it('escapes backslashes and refuses line breaks in values', () => {
    const l = layoutWith({ BITPREDICT_STACK_DIR: '/tmp/a\\b' });
    expect(parseProps(renderServerProperties(l, SECRETS)).get('log.dirs')).toBe('/tmp/a\\\\b/kafka/data');
    const broken = layoutWith({ BITPREDICT_STACK_DIR: '/tmp/a\nlisteners=PLAINTEXT://0.0.0.0:9092' });
    expect(() => renderServerProperties(broken, SECRETS)).toThrow(/line break/);
  });
});
