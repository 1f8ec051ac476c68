import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import kafkajs from 'kafkajs';
import type { LogEntry } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../logger.js';
import { kafkaJsEntryLevel, pinoLogCreator, protocolErrorOf } from './logging.js';

const { logLevel } = kafkajs;
// kafkajs builds its protocol errors from this; the entries below carry the messages it really logs.
const { createErrorFromCode } = createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};

/** A kafkajs log entry as its retriers write it (producer/sendMessages.js, cluster/brokerPool.js). */
function entry(namespace: string, level: number, message: string, extra: Record<string, unknown> = {}): LogEntry {
  return { namespace, level, label: 'ERROR', log: { timestamp: '2026-01-01T00:00:00.000Z', logger: 'kafkajs', message, ...extra } };
}

function route(entries: LogEntry[]): { level: number; msg: string; kafkaNamespace?: string }[] {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const log = pinoLogCreator(createLogger({ level: 'debug', destination: stream }))(logLevel.DEBUG);
  for (const e of entries) log(e);
  return lines.map((l) => JSON.parse(l) as { level: number; msg: string; kafkaNamespace?: string });
}

const PINO = { error: 50, warn: 40, info: 30, debug: 20 } as const;
const retried = { retryCount: 0, retryTime: 301 };

describe('kafkajs log levels', () => {
  it('logs the retried CONCURRENT_TRANSACTIONS of back-to-back transactions at debug, not error', () => {
    const concurrent = createErrorFromCode(51);
    expect(concurrent.type).toBe('CONCURRENT_TRANSACTIONS');
    const [line] = route([entry('Producer', logLevel.ERROR, `Failed to send messages: ${concurrent.message}`, retried)]);
    expect(line).toMatchObject({ level: PINO.debug, kafkaNamespace: 'Producer', msg: `Failed to send messages: ${concurrent.message}` });
  });

  it('lowers the retried coordinator and leader conditions of normal operation to debug, other retried protocol errors to warn', () => {
    for (const code of [5, 6, 14, 15, 16, 51]) {
      const e = createErrorFromCode(code);
      expect(kafkaJsEntryLevel('Producer', logLevel.ERROR, `Failed to send messages: ${e.message}`, retried), e.type).toBe(logLevel.DEBUG);
      expect(kafkaJsEntryLevel('BrokerPool', logLevel.ERROR, e.message, retried), e.type).toBe(logLevel.DEBUG);
    }
    // REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS: retried, but worth seeing.
    for (const code of [7, 19]) {
      expect(kafkaJsEntryLevel('Producer', logLevel.ERROR, `Failed to send messages: ${createErrorFromCode(code).message}`, retried)).toBe(logLevel.WARN);
    }
    expect(kafkaJsEntryLevel('Runner', logLevel.ERROR, 'The coordinator is not aware of this member, re-joining the group', {})).toBe(logLevel.WARN);
  });

  it('keeps real failures at error: a fenced producer, refused credentials, a retriable error outside a retrier, anything unknown', () => {
    const fenced = createErrorFromCode(47); // INVALID_PRODUCER_EPOCH: kafkajs bails, the transaction is lost
    expect(fenced.retriable).toBe(false);
    const lines = route([
      entry('Producer', logLevel.ERROR, fenced.message, retried),
      entry('BrokerPool', logLevel.ERROR, createErrorFromCode(58).message, retried), // SASL_AUTHENTICATION_FAILED
      entry('Producer', logLevel.ERROR, `Failed to send messages: ${createErrorFromCode(51).message}`), // no retryCount: not retried
      entry('Consumer', logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded: boom', { retryCount: 5 }),
    ]);
    expect(lines.map((l) => l.level)).toEqual([PINO.error, PINO.error, PINO.error, PINO.error]);
  });

  it('never raises a level, and keeps connection error responses at debug', () => {
    expect(kafkaJsEntryLevel('Producer', logLevel.WARN, createErrorFromCode(7).message, retried)).toBe(logLevel.WARN);
    expect(kafkaJsEntryLevel('Runner', logLevel.WARN, 'The group is rebalancing, re-joining', {})).toBe(logLevel.WARN);
    expect(kafkaJsEntryLevel('Connection', logLevel.ERROR, 'Response AddPartitionsToTxn(key: 24, version: 1)', {})).toBe(logLevel.DEBUG);
  });

  it('finds kafkajs’ protocol error table (a kafkajs upgrade that moves it fails here, not silently in production)', () => {
    expect(protocolErrorOf(createErrorFromCode(51).message)).toMatchObject({ type: 'CONCURRENT_TRANSACTIONS', code: 51, retriable: true });
    expect(protocolErrorOf(`Failed to send messages: ${createErrorFromCode(16).message}`)).toMatchObject({ code: 16, retriable: true });
    expect(protocolErrorOf('something else')).toBeUndefined();
  });
});
