import { describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import { MAX_TRACEPARENT_BYTES, parentOf, withTraceHeaders } from './tracing.js';
import { toInRecord } from './drivers/kafkajs/records.js';
import { committedSlice } from './drivers/platformatic/batches.js';

const GOOD = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const h = (v: string): Buffer => Buffer.from(v);

describe('trace context from Kafka record headers', () => {
  it('continues a valid traceparent and carries it on to outputs', () => {
    const { parent, rejected } = parentOf({ headers: { traceparent: h(GOOD), tracestate: h('k=v') } });
    expect(rejected).toBeNull();
    expect(trace.getSpanContext(parent)).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', isRemote: true });
    const out = withTraceHeaders({ topic: 't', key: null, value: null, headers: { other: 'x', traceparent: 'stale' } }, parent);
    expect(out.headers).toEqual({ other: 'x', traceparent: GOOD, tracestate: 'k=v' });
  });

  it('starts a new trace for a missing, malformed, truncated, oversized or repeated traceparent', () => {
    expect(parentOf({ headers: {} }).rejected).toBeNull();
    for (const bad of [
      '',
      'garbage',
      GOOD.slice(0, 30),
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ]) {
      const r = parentOf({ headers: { traceparent: h(bad) } });
      expect(r.rejected, bad).toBe('malformed');
      expect(trace.getSpanContext(r.parent)).toBeUndefined();
    }
    expect(parentOf({ headers: { traceparent: h(`${GOOD}-${'a'.repeat(MAX_TRACEPARENT_BYTES)}`) } }).rejected).toBe('oversized');
    expect(parentOf({ headers: { traceparent: h(GOOD) }, duplicateHeaders: ['traceparent'] }).rejected).toBe('duplicate');
  });

  it('both drivers keep the first value of a repeated header and name the key', () => {
    const js = toInRecord('t', 0, {
      key: null,
      value: null,
      timestamp: '0',
      attributes: 0,
      offset: '0',
      size: 0,
      headers: { traceparent: [GOOD, 'second'], one: 'x' },
    } as unknown as Parameters<typeof toInRecord>[2]);
    expect(js.headers.traceparent?.toString()).toBe(GOOD);
    expect(js.duplicateHeaders).toEqual(['traceparent']);
    expect(
      toInRecord('t', 0, { key: null, value: null, timestamp: '0', attributes: 0, offset: '0', size: 0, headers: { one: 'x' } } as unknown as Parameters<
        typeof toInRecord
      >[2]).duplicateHeaders,
    ).toBeUndefined();
    const slice = committedSlice(
      't',
      {
        partitionIndex: 0,
        abortedTransactions: [],
        records: [
          {
            firstOffset: 0n,
            lastOffsetDelta: 0,
            firstTimestamp: 0n,
            attributes: 0,
            producerId: 1n,
            records: [
              {
                offsetDelta: 0,
                timestampDelta: 0n,
                key: null,
                value: null,
                headers: [
                  [h('traceparent'), h(GOOD)],
                  [h('traceparent'), h('second')],
                ],
              },
            ],
          },
        ],
      } as unknown as Parameters<typeof committedSlice>[1],
      0n,
    );
    expect(slice.records[0]?.headers.traceparent?.toString()).toBe(GOOD);
    expect(slice.records[0]?.duplicateHeaders).toEqual(['traceparent']);
  });
});
