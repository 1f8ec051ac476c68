import { describe, expect, it } from 'vitest';
import { loadStackConfig, STACK_CONFIG_KEYS } from './config.js';

describe('loadStackConfig', () => {
  it('reads the stack keys and the services addresses from one environment; overrides win', () => {
    const c = loadStackConfig({ BITPREDICT_KAFKA_BROKERS: '127.0.0.1:19092', BITPREDICT_STACK_KAFKA_HEAP: '1g' }, { BITPREDICT_STACK_DIR: '/tmp/s' });
    expect(c.kafka.brokers).toEqual(['127.0.0.1:19092']);
    expect(c.stack).toMatchObject({ dir: '/tmp/s', kafkaHeap: '1g', kafkaControllerPort: 9093 });
    expect(c.registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
  });

  it('takes JAVA_HOME when BITPREDICT_STACK_JAVA_HOME is empty', () => {
    expect(loadStackConfig({ JAVA_HOME: '/jdk' }).stack.javaHome).toBe('/jdk');
    expect(loadStackConfig({ JAVA_HOME: '/jdk', BITPREDICT_STACK_JAVA_HOME: '/other' }).stack.javaHome).toBe('/other');
    expect(loadStackConfig({}).stack.javaHome).toBeUndefined();
  });

  it('refuses a typo in its own namespace and a bad value, naming the key', () => {
    expect(() => loadStackConfig({ BITPREDICT_STACK_DRI: 'x' })).toThrow(/BITPREDICT_STACK_DRI: unknown configuration key/);
    expect(() => loadStackConfig({ BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: '0' })).toThrow(/BITPREDICT_STACK_KAFKA_CONTROLLER_PORT: 0 is below the minimum 1/);
    expect(Object.keys(STACK_CONFIG_KEYS).every((k) => k.startsWith('BITPREDICT_STACK_'))).toBe(true);
  });
});
