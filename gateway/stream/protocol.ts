// The wire side of the WebSocket protocol v2 (docs/websocket.md, docs/asyncapi.yaml): channel
// grammar, message types, close codes and the parsing of client messages. Pure: no sockets, no
// state, so the docs tests and the hub share one definition of what a valid request is.
export const PROTOCOL_VERSION = 2;
export const CHANNEL_KINDS = ['predictions', 'features', 'candles', 'scores'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];
/** The `type` of the messages pushed on each kind of channel. */
export const MESSAGE_TYPES = { predictions: 'prediction', features: 'feature', candles: 'candle', scores: 'score' } as const satisfies Record<
  ChannelKind,
  string
>;
/** Retained for v1 callers: the prediction channel prefix. */
export const CHANNEL_PREFIX = 'predictions:';
const MAX_ID_LENGTH = 128;
const MAX_EPOCH_LENGTH = 64;
/** Partitions a resume cursor may name (a topic has far fewer). */
export const MAX_CURSOR_PARTITIONS = 1024;
const PARTITION_RE = /^(0|[1-9][0-9]{0,8})$/;
const SYMBOL_RE = /^[A-Z0-9]{2,20}$/;
const CHANNEL_RE = /^(predictions|features|candles|scores):([A-Za-z0-9]{2,20})$/i;

/** WebSocket close codes used by the gateway (docs/websocket.md). */
export const CloseCodes = {
  /** The server is shutting down (or restarting): reconnect, to this or another instance. */
  GOING_AWAY: 1001,
  /** A frame over the size limit (sent by ws itself). */
  TOO_LARGE: 1009,
  /** No subscription and no message from the client for the idle timeout. */
  IDLE: 4000,
  /** The API key was revoked (or deleted) while the connection was open. */
  UNAUTHENTICATED: 4001,
  /** The send buffer passed the limit: the client does not read fast enough. */
  TOO_SLOW: 4008,
  /** The client kept sending over its rate limit. */
  RATE_LIMITED: 4029,
} as const;

/** The `type` of every message the server sends. */
export type MessageType = 'hello' | 'subscribed' | 'unsubscribed' | 'prediction' | 'feature' | 'candle' | 'score' | 'gap' | 'pong' | 'error';

export type RequestId = string | number;

/** A position in a channel kind's topic: the last offset the client has, per partition. */
export type Cursor = Map<number, number>;

export interface ResumePoint {
  epoch: string;
  seq: number;
  /** The Kafka positions of the client's last messages: lets any replica resume it. */
  cursor?: Cursor;
}

export type ClientRequest =
  | { op: 'subscribe'; channel: string; kind: ChannelKind; symbol: string; resume?: ResumePoint; id?: RequestId }
  | { op: 'unsubscribe'; channel: string; kind: ChannelKind; symbol: string; id?: RequestId }
  | { op: 'ping'; id?: RequestId };

export const ProtocolErrorReasons = [
  'binary',
  'json',
  'not_object',
  'bad_id',
  'unknown_op',
  'bad_channel',
  'bad_resume',
  'too_many_subscriptions',
  'unknown_symbol',
  'too_many_channels',
  'queue_full',
  'too_large',
  'rate_limited',
] as const;
export type ProtocolErrorReason = (typeof ProtocolErrorReasons)[number];

export type ParseResult = { ok: true; request: ClientRequest } | { ok: false; reason: ProtocolErrorReason; message: string; id?: RequestId };

/** `predictions:btcusdt` -> `{ channel: 'predictions:BTCUSDT', kind: 'predictions', symbol: 'BTCUSDT' }`, or null. */
export function parseChannel(value: unknown): { channel: string; kind: ChannelKind; symbol: string } | null {
  if (typeof value !== 'string') return null;
  const m = CHANNEL_RE.exec(value);
  if (!m?.[1] || !m[2]) return null;
  const kind = m[1].toLowerCase() as ChannelKind;
  const symbol = m[2].toUpperCase();
  return { channel: `${kind}:${symbol}`, kind, symbol };
}

/** Upper-cased symbol if it fits the channel grammar, else null. */
export function normaliseSymbol(value: string): string | null {
  const s = value.toUpperCase();
  return SYMBOL_RE.test(s) ? s : null;
}

function parseResume(v: unknown): ResumePoint | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return 'resume must be an object {"epoch": string, "seq": integer, "cursor"?: {"<partition>": offset}}';
  const r = v as Record<string, unknown>;
  if (typeof r.epoch !== 'string' || r.epoch.length === 0 || r.epoch.length > MAX_EPOCH_LENGTH)
    return `resume.epoch must be the epoch string from hello (at most ${MAX_EPOCH_LENGTH} characters)`;
  if (typeof r.seq !== 'number' || !Number.isSafeInteger(r.seq) || r.seq < 0)
    return 'resume.seq must be a non-negative integer: the last seq received on the channel';
  if (r.cursor === undefined) return { epoch: r.epoch, seq: r.seq };
  const cursor = parseCursor(r.cursor);
  return typeof cursor === 'string' ? cursor : { epoch: r.epoch, seq: r.seq, cursor };
}

function parseCursor(v: unknown): Cursor | string {
  const problem = `resume.cursor must be an object of at most ${MAX_CURSOR_PARTITIONS} "<partition>": <offset> pairs (offset an integer >= -1), as in subscribed.cursor and each message's pos`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return problem;
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_CURSOR_PARTITIONS) return problem;
  const cursor: Cursor = new Map();
  for (const [k, o] of entries) {
    if (!PARTITION_RE.test(k) || typeof o !== 'number' || !Number.isSafeInteger(o) || o < -1) return problem;
    cursor.set(Number(k), o);
  }
  return cursor;
}

/** A cursor as JSON: `{"<partition>": <last offset>}`. */
export function cursorJson(cursor: Cursor): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [p, o] of cursor) out[String(p)] = o;
  return out;
}

export function parseClientMessage(text: string): ParseResult {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'json', message: 'message is not valid JSON' };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return { ok: false, reason: 'not_object', message: 'message must be a JSON object' };
  }
  const o = msg as Record<string, unknown>;
  let id: RequestId | undefined;
  if (o.id !== undefined) {
    const ok = (typeof o.id === 'string' && o.id.length <= MAX_ID_LENGTH) || (typeof o.id === 'number' && Number.isFinite(o.id));
    if (!ok) return { ok: false, reason: 'bad_id', message: `id must be a string of at most ${MAX_ID_LENGTH} characters or a finite number` };
    id = o.id as RequestId;
  }
  const withId = <T extends object>(r: T): T & { id?: RequestId } => (id === undefined ? r : { ...r, id });
  switch (o.op) {
    case 'ping':
      return { ok: true, request: withId({ op: 'ping' as const }) };
    case 'subscribe':
    case 'unsubscribe': {
      const parsed = parseChannel(o.channel);
      if (!parsed) {
        return withId({
          ok: false as const,
          reason: 'bad_channel' as const,
          message: 'channel must be "<predictions|features|candles|scores>:<SYMBOL>" with SYMBOL of 2 to 20 letters or digits',
        });
      }
      if (o.op === 'subscribe' && o.resume !== undefined) {
        const resume = parseResume(o.resume);
        if (typeof resume === 'string') return withId({ ok: false as const, reason: 'bad_resume' as const, message: resume });
        return { ok: true, request: withId({ op: 'subscribe' as const, ...parsed, resume }) };
      }
      return { ok: true, request: withId({ op: o.op, ...parsed }) };
    }
    default:
      return withId({ ok: false as const, reason: 'unknown_op' as const, message: 'op must be one of "subscribe", "unsubscribe", "ping"' });
  }
}

/** The text of a frame, whichever shape ws handed it over in. */
export function frameText(data: Buffer | ArrayBuffer | Buffer[] | string): string {
  if (typeof data === 'string') return data;
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** `{ id }` for a request that carried one, else nothing: replies echo the id only when given. */
export function echoId(id: RequestId | undefined): { id?: RequestId } {
  return id === undefined ? {} : { id };
}
