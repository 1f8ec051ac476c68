// Dead letters near the broker's size limit, and `bitpredict dlq list|show|redrive`, against the
// real stack. An input record of ~1 MB (it fits the broker's max.message.bytes, 1048588 by
// default) that fails becomes a DLQ record that would not fit with the DLQ fields around it: it
// must be truncated (size and SHA-256 of the original kept in headers), not fail every flush and
// stop the process. Then the CLI lists, shows, refuses to redrive the truncated one, dry-runs and
// redrives a whole one, whose second failure carries the redrive marker.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPlatform, uniqueId, waitFor, type TestPlatform } from '../helpers/platform.js';
import { createConsumerRunner, type ConsumerRunner } from '../../core/kafka/consumer.js';
import { createDeadLetterFactory, DLQ_HEADERS } from '../../core/kafka/dlq.js';
import { createProducer, type Producer } from '../../core/kafka/producer.js';
import { BitPredictError } from '../../core/errors.js';
import { dlq, readDeadLetters } from '../../cli/dlq.js';
import type { CommandContext } from '../../cli/context.js';

describe('DLQ: oversized dead letters are truncated; bitpredict dlq list|show|redrive', () => {
  let tp: TestPlatform;
  let producer: Producer;
  let runner: ConsumerRunner;
  const fatal: unknown[] = [];
  const handled: string[] = [];
  const groupId = uniqueId('dlq-cli');
  const big = Buffer.alloc(1_000_000, 'x');
  big.write('BIG-RECORD', 0);

  const run = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const ctx: CommandContext = {
      config: tp.config,
      logger: tp.logger,
      args,
      env: process.env,
      output: {
        line: (t) => void (out += `${t}\n`),
        text: (t) => void (out += t),
        json: (v) => void (out += `${JSON.stringify(v)}\n`),
        note: (t) => void (err += `${t}\n`),
        progress: () => undefined,
        error: (t) => void (err += `${t}\n`),
      },
    };
    const code = (await dlq(ctx)) ?? 0;
    return { code, out, err };
  };
  const dlqTopic = (): string => tp.topic('dlq');
  const ours = async () =>
    (await readDeadLetters({ client: tp.platform.kafka, serde: tp.platform.serde, topic: dlqTopic() })).filter((d) => d.letter.consumerGroup === groupId);

  beforeAll(async () => {
    tp = await createTestPlatform('dlq-cli');
    producer = await createProducer(tp.platform.kafka);
    runner = createConsumerRunner({
      client: tp.platform.kafka,
      groupId,
      topics: [tp.topic('textRaw')],
      handler: async (rec) => {
        const v = rec.value?.subarray(0, 20).toString() ?? '';
        if (v.startsWith('BIG') || v.startsWith('bad')) throw new BitPredictError('ERR_VALIDATION', `refused ${v.slice(0, 10)}`);
        handled.push(v);
        return Promise.resolve([]);
      },
      deadLetter: createDeadLetterFactory({ serde: tp.platform.serde, topicPrefix: tp.prefix }),
      delivery: { kind: 'at-least-once', producer },
      logger: tp.logger,
      registry: tp.platform.registry,
      maxAttempts: 1,
      retryBackoffMs: 5,
      onFatal: (e) => fatal.push(e),
    });
    await runner.start();
  });
  afterAll(async () => {
    await runner?.stop();
    await producer?.close();
    await tp?.cleanup();
  });

  it('truncates a dead letter that would pass the broker limit, keeps its size and SHA-256, and the partition keeps moving', async () => {
    // One send each: two of them in one produce request would pass the broker's limit.
    for (const value of [Buffer.from('bad-small'), big, big, Buffer.from('good')]) {
      await producer.send([
        { topic: tp.topic('textRaw'), key: 'k', value, ...(value.length < 100 && value.toString() === 'bad-small' ? { headers: { origin: 'test' } } : {}) },
      ]);
    }
    await waitFor(() => handled.includes('good') || fatal.length > 0, 'the record after the big ones to be handled', 60_000);
    expect(fatal).toEqual([]);
    await waitFor(async () => (await ours()).length === 3, 'three dead letters', 60_000);
    const letters = await ours();
    expect(letters.map((d) => d.truncated)).toEqual([null, 'value', 'value']);
    for (const d of letters.slice(1)) {
      expect(d.dlqHeaders[DLQ_HEADERS.originalSize]).toBe(String(big.length));
      expect(d.dlqHeaders[DLQ_HEADERS.originalSha256]).toBe(createHash('sha256').update(big).digest('hex'));
      // The head of the original is kept.
      expect(d.letter.value!.subarray(0, 10).toString()).toBe('BIG-RECORD');
      expect(d.letter.value!.length).toBeLessThan(big.length);
    }
  });

  it('list filters by reason, topic and time and counts per reason; show tells a truncated record', async () => {
    const all = await run(['list', '--topic', tp.topic('textRaw'), '--json']);
    expect(all.code).toBe(0);
    const parsed = JSON.parse(all.out) as { records: { id: string; reason: string; truncated: string | null }[]; counts: Record<string, number> };
    expect(parsed.counts).toEqual({ ERR_VALIDATION: 3 });
    expect(parsed.records.map((r) => r.truncated)).toEqual([null, 'value', 'value']);
    const none = await run(['list', '--reason', 'ERR_HANDLER']);
    expect(none.out).toMatch(/^0 record\(s\)/m);
    const future = await run(['list', '--from', '2999-01-01T00:00:00Z']);
    expect(future.out).toMatch(/^0 record\(s\)/m);
    const table = await run(['list', '--reason', 'ERR_VALIDATION', '--from', '2000-01-01T00:00:00Z']);
    expect(table.out).toMatch(/ERR_VALIDATION +3/);
    expect(table.out).toMatch(/truncated/);
    const shown = await run(['show', parsed.records[1]!.id]);
    expect(shown.code).toBe(0);
    expect(shown.out).toMatch(/truncated +yes \(value\): original 1000000 bytes, sha-256 [0-9a-f]{64}/);
    expect(shown.out).toMatch(/reason +ERR_VALIDATION: refused BIG-RECORD/);
    const small = await run(['show', parsed.records[0]!.id]);
    expect(small.out).toMatch(/headers +origin="test"/);
    expect(small.out).toMatch(/payload +"bad-small" \(9 bytes\)/);
    const missing = await run(['show', '0:999999']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no DLQ record 0:999999/);
  });

  it('redrive refuses truncated records, dry-runs, and sends whole ones back with a marker that shows when they fail again', async () => {
    const ids = (await ours()).map((d) => d.id);
    const refused = await run(['redrive', ids[1]!]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/not redriving .*truncated.*original 1000000 bytes/);
    expect(refused.out).toMatch(/redriven 0 record\(s\), refused 1/);

    const dry = await run(['redrive', ids[0]!, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/would send .* -> .*text\.raw key k, 9 bytes, bitpredict-redriven=1/);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await ours()).length).toBe(3);

    const sent = await run(['redrive', ids[0]!]);
    expect(sent.code).toBe(0);
    // The runner refuses it again: a fourth dead letter, marked as redriven once, with the original header.
    await waitFor(async () => (await ours()).length === 4, 'the redriven record to fail again', 60_000);
    const again = (await ours())[3]!;
    expect(again.redriven).toBe(1);
    expect(again.letter.headers.find((h) => h.key === 'origin')?.value?.toString()).toBe('test');
    const listed = await run(['list', '--topic', tp.topic('textRaw')]);
    expect(listed.out).toMatch(/redriven x1/);
  });

  it('answers bad flags with a clear usage error and exit 2', async () => {
    for (const [args, why] of [
      [['list', '--reason', 'ERR_NOPE'], /--reason: "ERR_NOPE" is not an error code/],
      [['list', '--from', 'yesterday'], /--from: "yesterday" is not an ISO 8601 time/],
      [['list', '--from', '2025-01-02T00:00:00Z', '--to', '2025-01-01T00:00:00Z'], /--from must be before --to/],
      [['list', '--bogus'], /Unknown option '--bogus'/],
      [['show'], /show takes one record id/],
      [['show', 'abc'], /show takes one record id/],
      [['redrive'], /redrive needs record ids or at least one of/],
      [['redrive', '1-2'], /"1-2" is not a record id/],
      [['frobnicate'], /unknown subcommand "frobnicate"/],
    ] as const) {
      const r = await run([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toMatch(why);
      expect(r.err).toMatch(/usage: bitpredict dlq list/);
    }
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/redrive +send the selected records back/);
  });
});
