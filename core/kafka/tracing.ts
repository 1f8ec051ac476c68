// Trace context across Kafka: the W3C `traceparent` (and `tracestate`) record headers, written by
// producers and processors, read by every consumer runner. Only used when the client was made with
// a tracer (tracing on, core/tracing.ts); otherwise none of this runs.
//
// One span per record, not per batch: each candle's trace must run unbroken from its producer
// through features and predictor to the gateway's push, with real parent links, and a batch span
// with links would cut every trace at each stage. The span costs only while tracing is on.
//
// A header that cannot be trusted starts a new root trace instead of failing the record: a
// malformed or oversized traceparent, or one that appears twice (W3C: several traceparent values
// make the context invalid). Each is counted in bitpredict_tracing_context_rejected_total.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { counter, type Registry } from '../metrics.js';
import type { InRecord, OutRecord } from './records.js';

/** Longest traceparent accepted (a version-00 traceparent is 55 bytes; later versions may append fields). */
export const MAX_TRACEPARENT_BYTES = 256;
/** Longest tracestate carried on (W3C: 32 members of at most 256 bytes would be 8 KiB; 512 is what vendors need). */
export const MAX_TRACESTATE_BYTES = 512;

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
const w3c = new W3CTraceContextPropagator();

export type ContextRejection = 'malformed' | 'oversized' | 'duplicate';

/** The parent context a record's headers name, or ROOT_CONTEXT with the reason it was not usable. */
export function parentOf(rec: Pick<InRecord, 'headers' | 'duplicateHeaders'>): { parent: Context; rejected: ContextRejection | null } {
  const tp = rec.headers[TRACEPARENT];
  if (tp === undefined) return { parent: ROOT_CONTEXT, rejected: null };
  if (rec.duplicateHeaders?.includes(TRACEPARENT)) return { parent: ROOT_CONTEXT, rejected: 'duplicate' };
  if (tp.length > MAX_TRACEPARENT_BYTES) return { parent: ROOT_CONTEXT, rejected: 'oversized' };
  const ts = rec.headers[TRACESTATE];
  const carrier: Record<string, string> = { [TRACEPARENT]: tp.toString('latin1') };
  if (ts !== undefined && ts.length <= MAX_TRACESTATE_BYTES && !rec.duplicateHeaders?.includes(TRACESTATE)) carrier[TRACESTATE] = ts.toString('latin1');
  const parent = w3c.extract(ROOT_CONTEXT, carrier, {
    get: (c: Record<string, string>, k) => c[k],
    keys: (c: Record<string, string>) => Object.keys(c),
  });
  return trace.getSpanContext(parent) === undefined ? { parent: ROOT_CONTEXT, rejected: 'malformed' } : { parent, rejected: null };
}

/** The record with the span's context in its headers (a copy; other headers kept). */
export function withTraceHeaders(rec: OutRecord, ctx: Context): OutRecord {
  const headers: Record<string, string> = { ...rec.headers };
  delete headers[TRACEPARENT];
  delete headers[TRACESTATE];
  w3c.inject(ctx, headers, {
    set: (c: Record<string, string>, k, v) => {
      c[k] = v;
    },
  });
  return { ...rec, headers };
}

export interface RecordTracing {
  /** Starts the CONSUMER span of one input record, continuing the trace its headers name. */
  startProcess(rec: InRecord, groupId: string): { span: Span; ctx: Context };
  /** The outputs of a record, stamped with its span so the next stage continues the trace. */
  stamp(out: OutRecord[], ctx: Context): OutRecord[];
}

export function createRecordTracing(tracer: Tracer, registry: Registry): RecordTracing {
  const rejected = counter(
    registry,
    'bitpredict_tracing_context_rejected_total',
    'Kafka records whose trace headers were not usable (malformed, oversized or repeated traceparent): each started a new trace',
    ['reason'],
  );
  return {
    startProcess(rec, groupId) {
      const { parent, rejected: why } = parentOf(rec);
      if (why !== null) rejected.inc({ reason: why });
      const span = tracer.startSpan(
        `process ${rec.topic}`,
        {
          kind: SpanKind.CONSUMER,
          attributes: {
            'messaging.system': 'kafka',
            'messaging.operation.type': 'process',
            'messaging.destination.name': rec.topic,
            'messaging.destination.partition.id': String(rec.partition),
            'messaging.kafka.offset': Number(rec.offset),
            'messaging.consumer.group.name': groupId,
            ...(why !== null ? { 'bitpredict.trace_context_rejected': why } : {}),
          },
        },
        parent,
      );
      return { span, ctx: trace.setSpan(parent, span) };
    },
    stamp: (out, ctx) => out.map((r) => withTraceHeaders(r, ctx)),
  };
}

/**
 * Sends records through `send` inside PRODUCER spans, one per record that carries no traceparent
 * yet (a producer's new record); a processor's outputs already continue their trace and go as they are.
 */
export async function sendTraced(tracer: Tracer, records: OutRecord[], send: (records: OutRecord[]) => Promise<void>): Promise<void> {
  const spans: Span[] = [];
  const parent = context.active();
  const stamped = records.map((r) => {
    if (r.headers?.[TRACEPARENT] !== undefined) return r;
    const span = tracer.startSpan(
      `send ${r.topic}`,
      { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'messaging.destination.name': r.topic } },
      parent,
    );
    spans.push(span);
    return withTraceHeaders(r, trace.setSpan(parent, span));
  });
  try {
    await send(stamped);
  } catch (err) {
    for (const s of spans) s.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    for (const s of spans) s.end();
  }
}
