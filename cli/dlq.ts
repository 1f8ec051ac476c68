// `bitpredict dlq list|show|redrive`: look at the dead-letter topic and send records back to the
// topic they came from (docs/operations.md#dead-letter-queue).
//   list     one line per DLQ record (id = partition:offset), filtered by --reason, --from/--to
//            (when it failed), --topic (source topic) and --group, then counts per reason;
//   show     one record: reason, source, original headers, a payload preview, truncated or not;
//   redrive  the selected records (ids, or the filters) back to their source topic, with the
//            header bitpredict-redriven (1, 2...) so that one failing again is visible in the DLQ;
//            --dry-run prints what would be sent. Truncated records, and records that did not come
//            from a topic (replay files, HTTP, WebSocket), are refused with the reason.
import { parseArgs } from 'node:util';
import { renderHelp } from './flags.js';
import { DLQ_FLAGS, SPECS } from './specs.js';
import type { CommandContext } from './context.js';
import { formatTable, type Output } from './output.js';
import { isoTimeFlag } from './args.js';
import { ErrorCodes, errorMessage, type ErrorCode } from '../core/errors.js';
import { createMetricsRegistry } from '../core/metrics.js';
import { createPlatform, type Platform } from '../core/runtime.js';
import { createAdmin, type KafkaClient } from '../core/kafka/client.js';
import { readRange } from '../core/kafka/range.js';
import { createProducer } from '../core/kafka/producer.js';
import { DLQ_HEADERS, REDRIVE_HEADER } from '../core/kafka/dlq.js';
import type { OutRecord } from '../core/kafka/producer.js';
import type { Serde } from '../core/serde/serde.js';
import { topicName } from '../schemas/index.js';
import type { DeadLetter } from '../schemas/types.js';

/** The help of `bitpredict dlq`, printed from the command table that cli/main.ts checks the flags with. */
export const USAGE = renderHelp('dlq', SPECS.dlq).trimEnd();

/** One record of the DLQ topic, decoded. */
export interface StoredDeadLetter {
  /** partition:offset in the DLQ topic. */
  id: string;
  partition: number;
  offset: string;
  /** The DLQ record's own Kafka headers (truncation). */
  dlqHeaders: Record<string, string>;
  letter: DeadLetter;
  /** What was cut (DLQ_HEADERS.truncated), or null when the record is whole. */
  truncated: string | null;
  /** How many times the original was redriven before it failed this time (its bitpredict-redriven header). */
  redriven: number;
}

export interface DlqFilter {
  reason?: ErrorCode;
  from?: number;
  to?: number;
  topic?: string;
  group?: string;
}

function headerText(v: Buffer | undefined): string | undefined {
  return v === undefined ? undefined : v.toString('utf8');
}

function matches(d: StoredDeadLetter, f: DlqFilter): boolean {
  const l = d.letter;
  if (f.reason !== undefined && l.errorCode !== f.reason) return false;
  if (f.from !== undefined && l.failedAt < f.from) return false;
  if (f.to !== undefined && l.failedAt >= f.to) return false;
  if (f.topic !== undefined && l.source !== f.topic) return false;
  if (f.group !== undefined && l.consumerGroup !== f.group) return false;
  return true;
}

/**
 * Every record of the DLQ topic that passes the filter, by partition then offset. With --from,
 * each partition is read from the first record stamped at or after it (the record timestamp of a
 * dead letter is failedAt). A record that does not decode is reported on `onBadRecord`, not dropped silently.
 */
export async function readDeadLetters(
  deps: { client: KafkaClient; serde: Serde; topic: string; onBadRecord?: (id: string, why: string) => void },
  filter: DlqFilter = {},
  /** Only this record (show): one partition, one offset. */
  at?: { partition: number; offset: bigint },
): Promise<StoredDeadLetter[]> {
  const admin = await createAdmin(deps.client);
  let ranges: { partition: number; from: bigint; to: bigint }[];
  try {
    if (at !== undefined) {
      const end = (await admin.endOffsets(deps.topic)).find((e) => e.partition === at.partition);
      if (end === undefined || BigInt(end.offset) <= at.offset) return [];
    }
    const ends = await admin.endOffsets(deps.topic);
    const starts =
      filter.from !== undefined ? new Map((await admin.offsetsForTime(deps.topic, filter.from)).map((s) => [s.partition, BigInt(s.offset)])) : null;
    ranges =
      at !== undefined
        ? [{ partition: at.partition, from: at.offset, to: at.offset + 1n }]
        : ends.map((e) => ({ partition: e.partition, from: starts?.get(e.partition) ?? 0n, to: BigInt(e.offset) }));
  } finally {
    await admin.close();
  }
  const out: StoredDeadLetter[] = [];
  for (const r of ranges.sort((a, b) => a.partition - b.partition)) {
    await readRange(deps.client, deps.topic, r.partition, r.from, r.to, async (rec) => {
      const id = `${rec.partition}:${rec.offset}`;
      let letter: DeadLetter;
      try {
        letter = await deps.serde.decode('dlq', rec.value);
      } catch (err) {
        deps.onBadRecord?.(id, errorMessage(err));
        return;
      }
      const dlqHeaders: Record<string, string> = {};
      for (const [k, v] of Object.entries(rec.headers)) if (v !== undefined) dlqHeaders[k] = v.toString('utf8');
      const redrive = letter.headers.find((h) => h.key === REDRIVE_HEADER);
      const d: StoredDeadLetter = {
        id,
        partition: rec.partition,
        offset: rec.offset,
        dlqHeaders,
        letter,
        truncated: dlqHeaders[DLQ_HEADERS.truncated] ?? null,
        redriven: Number(headerText(redrive?.value ?? undefined) ?? 0) || 0,
      };
      if (matches(d, filter)) out.push(d);
    });
  }
  return out;
}

/** Why a dead letter cannot be sent back, or null when it can. */
export function redriveRefusal(d: StoredDeadLetter): string | null {
  const l = d.letter;
  if (d.truncated !== null)
    return `its payload was truncated to fit the DLQ (${d.truncated}; original ${d.dlqHeaders[DLQ_HEADERS.originalSize] ?? '?'} bytes, sha-256 ${d.dlqHeaders[DLQ_HEADERS.originalSha256] ?? '?'}); the original bytes are not in the DLQ`;
  if (l.sourceKind !== 'topic') return `it did not come from a topic (source kind ${l.sourceKind}: ${l.source}); re-run what produced it instead`;
  if (l.key !== null && Buffer.from(l.key.toString('utf8'), 'utf8').compare(l.key) !== 0)
    return 'its key is not UTF-8 text, which the producer cannot send unchanged';
  for (const h of l.headers) {
    if (h.value !== null && Buffer.from(h.value.toString('utf8'), 'utf8').compare(h.value) !== 0)
      return `its header ${h.key} is not UTF-8 text, which the producer cannot send unchanged`;
  }
  return null;
}

/** The record a redrive sends: the original key, value and headers, to the source topic, with the redrive count. */
export function redriveRecord(d: StoredDeadLetter): OutRecord {
  const l = d.letter;
  const headers: Record<string, string> = {};
  for (const h of l.headers) if (h.value !== null && h.key !== REDRIVE_HEADER) headers[h.key] = h.value.toString('utf8');
  headers[REDRIVE_HEADER] = String(d.redriven + 1);
  return { topic: l.source, key: l.key === null ? null : l.key.toString('utf8'), value: l.value, headers };
}

function preview(b: Buffer | null, max = 200): string {
  if (b === null) return '(null)';
  const head = b.subarray(0, max);
  const text = head.toString('utf8');
  // Printable text (JSON, CSV rows) as text; anything else (Avro) as hex.
  const printable = !text.includes('\ufffd') && ![...head].some((c) => c < 0x09 || (c > 0x0d && c < 0x20));
  const shown = printable ? JSON.stringify(text) : `hex ${head.toString('hex')}`;
  return b.length > max ? `${shown} ... (${b.length} bytes)` : `${shown} (${b.length} bytes)`;
}

function summary(d: StoredDeadLetter): Record<string, unknown> {
  const l = d.letter;
  return {
    id: d.id,
    failedAt: new Date(l.failedAt).toISOString(),
    reason: l.errorCode,
    message: l.errorMessage,
    attempts: l.attempts,
    sourceKind: l.sourceKind,
    source: l.source,
    sourcePartition: l.partition,
    sourceOffset: l.offset,
    group: l.consumerGroup,
    bytes: l.value?.length ?? 0,
    truncated: d.truncated,
    ...(d.truncated !== null
      ? { originalBytes: Number(d.dlqHeaders[DLQ_HEADERS.originalSize]), originalSha256: d.dlqHeaders[DLQ_HEADERS.originalSha256] }
      : {}),
    redriven: d.redriven,
  };
}

type Parsed =
  | { sub: 'list'; filter: DlqFilter; json: boolean }
  | { sub: 'show'; id: string; json: boolean }
  | { sub: 'redrive'; ids: string[]; filter: DlqFilter; dryRun: boolean }
  | { help: true }
  | { problem: string };

const ID = /^\d+:\d+$/;

/** Flags are checked before anything connects. */
export function parseDlqArgs(args: string[]): Parsed {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') return { help: true };
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: rest,
      options: { ...DLQ_FLAGS, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    return { problem: errorMessage(err) };
  }
  if (values.help) return { help: true };
  if (!['list', 'show', 'redrive'].includes(sub)) return { problem: `unknown subcommand "${sub}"` };
  const filter: DlqFilter = {};
  try {
    if (values.reason !== undefined) {
      const r = values.reason as string;
      if (!(r in ErrorCodes)) return { problem: `--reason: "${r}" is not an error code (docs/errors.md lists them, e.g. ERR_VALIDATION)` };
      filter.reason = r as ErrorCode;
    }
    if (values.from !== undefined) filter.from = isoTimeFlag('from', values.from as string, 0);
    if (values.to !== undefined) filter.to = isoTimeFlag('to', values.to as string, 0);
  } catch (err) {
    return { problem: errorMessage(err) };
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.from >= filter.to) return { problem: '--from must be before --to' };
  if (values.topic !== undefined) filter.topic = values.topic as string;
  if (values.group !== undefined) filter.group = values.group as string;
  const hasFilter = Object.keys(filter).length > 0;
  if (sub === 'list') {
    if (positionals.length > 0) return { problem: `list takes flags only (got "${positionals.join(' ')}")` };
    if (values['dry-run']) return { problem: '--dry-run belongs to redrive' };
    return { sub, filter, json: values.json === true };
  }
  if (sub === 'show') {
    if (positionals.length !== 1 || !ID.test(positionals[0]!)) return { problem: 'show takes one record id, partition:offset (from dlq list)' };
    if (hasFilter || values['dry-run']) return { problem: 'show takes a record id and --json only' };
    return { sub, id: positionals[0]!, json: values.json === true };
  }
  const bad = positionals.find((p) => !ID.test(p));
  if (bad !== undefined) return { problem: `redrive: "${bad}" is not a record id (partition:offset, from dlq list)` };
  if (positionals.length === 0 && !hasFilter)
    return { problem: 'redrive needs record ids or at least one of --reason, --from, --to, --topic, --group (it never sends the whole DLQ by default)' };
  if (values.json) return { problem: '--json belongs to list and show' };
  return { sub: 'redrive', ids: positionals, filter, dryRun: values['dry-run'] === true };
}

function usage(output: Output, problem: string): number {
  output.error(`bitpredict dlq: ${problem}\n${USAGE}`);
  return 2;
}

async function list(output: Output, letters: StoredDeadLetter[], json: boolean): Promise<number> {
  const counts = new Map<string, number>();
  for (const d of letters) counts.set(d.letter.errorCode, (counts.get(d.letter.errorCode) ?? 0) + 1);
  if (json) {
    output.json({ records: letters.map(summary), counts: Object.fromEntries([...counts].sort()) });
    return Promise.resolve(0);
  }
  if (letters.length > 0) {
    const rows = letters.map((d) => {
      const l = d.letter;
      const flags = [d.truncated !== null ? 'truncated' : '', d.redriven > 0 ? `redriven x${d.redriven}` : ''].filter(Boolean).join(',');
      return [
        d.id,
        new Date(l.failedAt).toISOString(),
        l.errorCode,
        `${l.source}${l.partition !== null ? `[${l.partition}]@${l.offset}` : ''}`,
        l.consumerGroup ?? '-',
        String(l.value?.length ?? 0),
        flags || '-',
      ];
    });
    output.text(formatTable([['ID', 'FAILED AT', 'REASON', 'SOURCE', 'GROUP', 'BYTES', 'FLAGS'], ...rows]));
  }
  output.line(`${letters.length} record(s)`);
  for (const [reason, n] of [...counts].sort()) output.line(`  ${reason}  ${n}`);
  return Promise.resolve(0);
}

function show(output: Output, d: StoredDeadLetter, json: boolean): number {
  const l = d.letter;
  if (json) {
    output.json({
      ...summary(d),
      key: l.key?.toString('utf8') ?? null,
      headers: l.headers.map((h) => ({ key: h.key, value: h.value?.toString('utf8') ?? null })),
      valueBase64: l.value?.toString('base64') ?? null,
    });
    return 0;
  }
  const lines = [
    `id          ${d.id}`,
    `failed at   ${new Date(l.failedAt).toISOString()}`,
    `reason      ${l.errorCode}: ${l.errorMessage}`,
    `attempts    ${l.attempts}`,
    `source      ${l.sourceKind} ${l.source}${l.partition !== null ? ` partition ${l.partition}` : ''}${l.offset !== null ? ` offset ${l.offset}` : ''}`,
    `group       ${l.consumerGroup ?? '-'}`,
    `redriven    ${d.redriven}`,
    `truncated   ${d.truncated === null ? 'no' : `yes (${d.truncated}): original ${d.dlqHeaders[DLQ_HEADERS.originalSize]} bytes, sha-256 ${d.dlqHeaders[DLQ_HEADERS.originalSha256]}`}`,
    `key         ${preview(l.key, 120)}`,
    `headers     ${l.headers.length === 0 ? '-' : l.headers.map((h) => `${h.key}=${preview(h.value, 80)}`).join('\n            ')}`,
    `payload     ${preview(l.value)}`,
  ];
  output.text(lines.join('\n') + '\n');
  return 0;
}

async function redrive(ctx: CommandContext, platform: Platform, letters: StoredDeadLetter[], ids: string[], dryRun: boolean): Promise<number> {
  const { output } = ctx;
  let selected = letters;
  let status = 0;
  if (ids.length > 0) {
    const byId = new Map(letters.map((d) => [d.id, d]));
    const missing = ids.filter((id) => !byId.has(id));
    for (const id of missing) output.error(`bitpredict dlq: no DLQ record ${id} (matching the filters)`);
    if (missing.length > 0) status = 1;
    selected = ids.filter((id) => byId.has(id)).map((id) => byId.get(id)!);
  }
  const sendable: { d: StoredDeadLetter; out: OutRecord }[] = [];
  for (const d of selected) {
    const why = redriveRefusal(d);
    if (why !== null) {
      output.error(`bitpredict dlq: not redriving ${d.id}: ${why}`);
      status = 1;
      continue;
    }
    sendable.push({ d, out: redriveRecord(d) });
  }
  for (const { d, out } of sendable) {
    output.line(
      `${dryRun ? 'would send' : 'sending'} ${d.id} (${d.letter.errorCode}) -> ${out.topic} key ${out.key ?? '(null)'}, ${out.value?.length ?? 0} bytes, ${REDRIVE_HEADER}=${out.headers?.[REDRIVE_HEADER]}`,
    );
  }
  if (!dryRun && sendable.length > 0) {
    const producer = await createProducer(platform.kafka);
    try {
      await producer.send(sendable.map((s) => s.out));
    } finally {
      await producer.close();
    }
  }
  output.line(
    `${dryRun ? 'dry run: would redrive' : 'redriven'} ${sendable.length} record(s)${selected.length > sendable.length ? `, refused ${selected.length - sendable.length}` : ''}`,
  );
  return status;
}

export async function dlq(ctx: CommandContext): Promise<number> {
  const parsed = parseDlqArgs(ctx.args);
  if ('help' in parsed) {
    ctx.output.line(USAGE);
    return 0;
  }
  if ('problem' in parsed) return usage(ctx.output, parsed.problem);
  const platform = createPlatform({
    config: ctx.config,
    logger: ctx.logger,
    registry: createMetricsRegistry({ service: 'dlq', defaultMetrics: false }),
    clientId: 'dlq',
  });
  const topic = topicName('dlq', platform.kafka.topicPrefix);
  const filter = 'filter' in parsed ? parsed.filter : {};
  const at = parsed.sub === 'show' ? { partition: Number(parsed.id.split(':')[0]), offset: BigInt(parsed.id.split(':')[1]!) } : undefined;
  const letters = await readDeadLetters(
    {
      client: platform.kafka,
      serde: platform.serde,
      topic,
      onBadRecord: (id, why) => ctx.output.error(`bitpredict dlq: ${id} is not a DLQ record (${why}); skipped`),
    },
    filter,
    at,
  );
  if (parsed.sub === 'list') return list(ctx.output, letters, parsed.json);
  if (parsed.sub === 'show') {
    const d = letters.find((x) => x.id === parsed.id);
    if (!d) {
      ctx.output.error(`bitpredict dlq: ERR_NOT_FOUND: no DLQ record ${parsed.id} in ${topic}`);
      return 1;
    }
    return show(ctx.output, d, parsed.json);
  }
  return redrive(ctx, platform, letters, parsed.ids, parsed.dryRun);
}
