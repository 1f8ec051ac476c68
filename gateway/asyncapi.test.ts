// The AsyncAPI document is what client authors generate code from: it must say what the hub does.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CHANNEL_KINDS, CloseCodes, MESSAGE_TYPES, PROTOCOL_VERSION, ProtocolErrorReasons, parseChannel } from './stream/hub.js';

interface Doc {
  asyncapi: string;
  info: { description: string };
  components: {
    messages: Record<string, { payload: { required?: string[]; properties: Record<string, { const?: unknown; enum?: unknown[]; pattern?: string }> } }>;
    schemas: Record<string, { required?: string[]; pattern?: string }>;
  };
}

const doc = parse(readFileSync(new URL('../docs/asyncapi.yaml', import.meta.url), 'utf8')) as Doc;
const avroFields = (file: string): string[] =>
  (JSON.parse(readFileSync(new URL(`../schemas/avro/${file}`, import.meta.url), 'utf8')) as { fields: { name: string }[] }).fields.map((f) => f.name);

describe('docs/asyncapi.yaml', () => {
  it('is AsyncAPI 3 and describes protocol version the hub speaks', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    expect(doc.components.messages.hello?.payload.properties.protocol?.const).toBe(PROTOCOL_VERSION);
  });

  it('has a message for every type the hub pushes and every op it accepts', () => {
    const names = Object.keys(doc.components.messages);
    for (const t of [...Object.values(MESSAGE_TYPES), 'hello', 'subscribed', 'gap', 'unsubscribed', 'pong', 'error', 'subscribe', 'unsubscribe', 'ping']) {
      expect(names, t).toContain(t);
    }
    expect(CHANNEL_KINDS.map((k) => MESSAGE_TYPES[k])).toEqual(['prediction', 'feature', 'candle', 'score']);
  });

  it('lists exactly the error reasons sent as error messages', () => {
    const sent = ProtocolErrorReasons.filter((r) => r !== 'too_large');
    expect([...(doc.components.messages.error?.payload.properties.reason?.enum ?? [])].sort()).toEqual([...sent].sort());
  });

  it('names every close code the gateway uses', () => {
    for (const code of Object.values(CloseCodes)) expect(doc.info.description).toContain(String(code));
  });

  it('has a channel pattern that accepts what parseChannel accepts', () => {
    const re = new RegExp(doc.components.schemas.channelName?.pattern ?? '^$');
    for (const c of [
      'predictions:BTCUSDT',
      'features:ethusdt',
      'candles:SOL2',
      'scores:BTCUSDT',
      'score:BTCUSDT',
      'trades:BTCUSDT',
      'predictions:B',
      'predictions:BTC-USD',
    ]) {
      expect(re.test(c), c).toBe(parseChannel(c) !== null);
    }
  });

  it('requires every field of the Avro Prediction and Score in their schemas', () => {
    expect([...(doc.components.schemas.Prediction?.required ?? [])].sort()).toEqual(avroFields('prediction.avsc').sort());
    for (const f of doc.components.schemas.Candle?.required ?? []) expect(avroFields('candle.avsc')).toContain(f);
    for (const f of doc.components.schemas.FeatureVector?.required ?? []) expect(avroFields('feature-vector.avsc')).toContain(f);
    expect([...(doc.components.schemas.Score?.required ?? [])].sort()).toEqual(avroFields('score.avsc').sort());
  });
});
