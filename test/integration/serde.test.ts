// The Avro contract against the real registry: values round-trip, invalid values are refused with
// the bad path, a record written with an older schema is read with today's (BACKWARD: new fields
// take their defaults), an incompatible change to a subject is refused, and an unknown schema id
// is a clear, non-retryable error.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
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

  it("predictions with distributions pass the registry's BACKWARD check against schema version 1, both ways of reading hold", async () => {
    const url = tp.config.registry.url;
    const v1 = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/schemas/prediction-v1.avsc', import.meta.url)), 'utf8')) as avro.Schema;
    const subject = `${tp.prefix}evolving-predictions-value`;
    const cfg = await fetch(`${url}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility: 'BACKWARD' }),
    });
    expect(cfg.status).toBe(200);
    const first = await registerRaw(url, subject, v1);
    expect(first.status).toBe(200);
    const check = await fetch(`${url}/compatibility/subjects/${encodeURIComponent(subject)}/versions/latest`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(loadSchema('predictions')) }),
    });
    expect(check.status).toBe(200);
    expect(((await check.json()) as { is_compatible: boolean }).is_compatible).toBe(true);
    const second = await registerRaw(url, subject, loadSchema('predictions'));
    expect(second.status).toBe(200);
    expect(second.body.id).not.toBe(first.body.id);
    // The registry refuses the distribution fields without defaults (the check can fail).
    const strict = loadSchema('predictions') as { fields: { name: string; default?: unknown }[] };
    const noDefaults = { ...strict, fields: strict.fields.map(({ default: _d, ...f }) => f) };
    const refused = await fetch(`${url}/compatibility/subjects/${encodeURIComponent(subject)}/versions/1`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(noDefaults) }),
    });
    expect(((await refused.json()) as { is_compatible: boolean }).is_compatible).toBe(false);
    // A version-1 record framed with its registry id decodes to today's type with empty distributions.
    const old = {
      symbol: 'BTCUSDT',
      interval: '1h',
      eventTime: Date.UTC(2024, 0, 1, 1),
      targetTime: Date.UTC(2024, 0, 1, 2),
      horizonSteps: 1,
      predictedLogReturn: 0,
      predictedPrice: 42_000,
      probUp: 0.5,
      modelName: 'persistence',
      modelVersion: '1',
      isBaseline: true,
      featureSetVersion: 'fs',
      candleIngestedAt: Date.UTC(2024, 0, 1, 1),
      featuresComputedAt: Date.UTC(2024, 0, 1, 1),
      predictedAt: Date.UTC(2024, 0, 1, 1),
    };
    const header = Buffer.alloc(5);
    header.writeInt32BE(first.body.id as number, 1);
    const decoded = await tp.platform.serde.decode('predictions', Buffer.concat([header, avro.Type.forSchema(v1).toBuffer(old)]));
    expect(decoded).toEqual({ ...old, quantileLevels: [], horizons: [] });
    // Today's record, as the predictor frames it, read by a consumer still on version 1.
    const now = {
      ...old,
      quantileLevels: [0.5],
      horizons: [{ horizonSteps: 1, targetTime: old.targetTime, mean: 0, scale: 0.004, quantiles: [0], probUp: 0.5, predictedPrice: 42_000 }],
    };
    const framed = tp.platform.serde.encode('predictions', now);
    const writer = avro.Type.forSchema(loadSchema('predictions') as avro.Schema);
    const reader = avro.Type.forSchema(v1);
    expect(reader.fromBuffer(framed.subarray(5), reader.createResolver(writer))).toEqual(old);
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
