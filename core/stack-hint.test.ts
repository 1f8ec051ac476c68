// The "npm run stack:up" hint appears only for the local stack's own addresses.
import { describe, expect, it } from 'vitest';
import { isLocalStackKafka, isLocalStackUrl, unreachableHint } from './stack-hint.js';

describe('local stack hint', () => {
  it('knows the local stack brokers from any other cluster', () => {
    expect(isLocalStackKafka(['127.0.0.1:9092'])).toBe(true);
    expect(isLocalStackKafka(['localhost:9092'])).toBe(true);
    expect(isLocalStackKafka(['kafka:9092'])).toBe(false);
    expect(isLocalStackKafka(['127.0.0.1:1'])).toBe(false);
    expect(isLocalStackKafka(['127.0.0.1:9092', 'kafka-1.kafka:9092'])).toBe(false);
    expect(isLocalStackKafka([])).toBe(false);
  });

  it('knows the local registry and Redis URLs', () => {
    expect(isLocalStackUrl('http://127.0.0.1:8081/apis/ccompat/v7', 'registry')).toBe(true);
    expect(isLocalStackUrl('http://apicurio.registry.svc:8081/apis/ccompat/v7', 'registry')).toBe(false);
    expect(isLocalStackUrl('redis://127.0.0.1:6379', 'redis')).toBe(true);
    expect(isLocalStackUrl('redis://localhost:6379/0', 'redis')).toBe(true);
    expect(isLocalStackUrl('rediss://redis.prod:6380', 'redis')).toBe(false);
    expect(isLocalStackUrl('not a url', 'redis')).toBe(false);
  });

  it('names the command locally and the setting elsewhere', () => {
    expect(unreachableHint(true, 'BITPREDICT_REDIS_URL')).toMatch(/npm run stack:up/);
    expect(unreachableHint(false, 'BITPREDICT_REDIS_URL')).toBe('check BITPREDICT_REDIS_URL and that it is reachable from here');
  });
});
