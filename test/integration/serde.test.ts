// The Avro contract against the real registry: values round-trip, invalid values are refused with
// the bad path, a record written with an older schema is read with today's (BACKWARD: new fields
// take their defaults), an incompatible change to a subject is refused, and an unknown schema id
// is a clear, non-retryable error.
import avro from 'avsc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { candle } from '../helpers/candles.js';
import { loadSchema, subjectFor } from '../../schemas/index.js';

async function registerRaw(url: string, subject: string, schema: unknown): Promise<{ status: number; body: { id?: number } }> {
  const res = await fetch(`${url}/subjects/${encodeURIComponent(subject)}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schema: JSON.stringify(schema) }),
  });
  return { status: res.status, body: (await res.json()) as { id?: number } };
}

describe('serde against the registry', () => {
  let tp: TestPlatform;
  beforeAll(async () => {
    tp = await createTestPlatform('serde');
  });
  afterAll(async () => {
    await tp?.cleanup();
  });

  it('round-trips a candle in the Confluent wire format', async () => {
    const c = candle(Date.UTC(2024, 0, 1), 42_000, { quoteVolume: 1.5, tradeCount: 7 });
    const buf = tp.platform.serde.encode('candles', c);
    expect(buf[0]).toBe(0);
    expect(buf.readInt32BE(1)).toBe(tp.platform.serde.schemaId('candles'));
    expect(await tp.platform.serde.decode('candles', buf)).toEqual(c);
  });

  it('refuses a value that does not match the schema, naming the field', () => {
    const bad = { ...candle(Date.UTC(2024, 0, 1)), close: 'high' as unknown as number };
    expect(() => tp.platform.serde.encode('candles', bad)).toThrowError(/ERR_SERDE_ENCODE|close/);
    try {
      tp.platform.serde.encode('candles', bad);
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_SERDE_ENCODE');
      expect((e as Error).message).toMatch(/close="high"/);
    }
  });

  it('reads a record written with an older schema version, filling new fields with defaults', async () => {
    const current = loadSchema('candles') as { fields: { name: string }[] };
    const older = { ...current, fields: current.fields.filter((f) => f.name !== 'quoteVolume' && f.name !== 'tradeCount') };
    const { status, body } = await registerRaw(tp.config.registry.url, `${tp.prefix}older-candle-value`, older);
    expect(status).toBe(200);
    const { quoteVolume: _q, tradeCount: _t, ...oldRecord } = candle(Date.UTC(2024, 0, 1));
    const payload = avro.Type.forSchema(older as avro.Schema).toBuffer(oldRecord);
    const header = Buffer.alloc(5);
    header.writeInt32BE(body.id as number, 1);
    const decoded = await tp.platform.serde.decode('candles', Buffer.concat([header, payload]));
    expect(decoded).toEqual({ ...oldRecord, quoteVolume: null, tradeCount: null });
  });

  it('the registry refuses an incompatible change to a topic subject (BACKWARD)', async () => {
    const current = loadSchema('candles') as { fields: unknown[] };
    const incompatible = { ...current, fields: [...current.fields, { name: 'mandatory', type: 'string' }] };
    const { status } = await registerRaw(tp.config.registry.url, subjectFor(tp.topic('candles')), incompatible);
    expect(status).toBe(409);
  });

  it('an unknown schema id is ERR_SERDE_UNKNOWN_SCHEMA, and garbage is ERR_SERDE_DECODE', async () => {
    const buf = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]);
    await expect(tp.platform.serde.decode('candles', buf)).rejects.toMatchObject({ code: 'ERR_SERDE_UNKNOWN_SCHEMA', retryable: false });
    await expect(tp.platform.serde.decode('candles', Buffer.from([1, 2]))).rejects.toMatchObject({ code: 'ERR_SERDE_DECODE' });
    await expect(tp.platform.serde.decode('candles', null)).rejects.toMatchObject({ code: 'ERR_SERDE_DECODE' });
    const id = tp.platform.serde.schemaId('predictions');
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    // A prediction's schema cannot be read as a candle.
    await expect(tp.platform.serde.decode('candles', Buffer.concat([header, Buffer.from([0])]))).rejects.toMatchObject({ code: 'ERR_SERDE_DECODE' });
  });
});
