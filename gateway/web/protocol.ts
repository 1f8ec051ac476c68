// The WebSocket protocol v2 (docs/websocket.md) as pure decisions: what a server frame is, whether
// a pushed message is the next one, a repeat or one after a hole, how to subscribe (with a resume
// point when there is one), how long to wait before reconnecting, and what a close code means.
import { finite, isObject } from './parse.js';

export const CHANNEL_KINDS = ['candles', 'features', 'predictions', 'scores'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

const PUSH_TYPES = { candle: 'candles', feature: 'features', prediction: 'predictions', score: 'scores' } as const;
type PushType = keyof typeof PUSH_TYPES;

export type ServerMessage =
  | { type: 'hello'; epoch: string }
  | { type: 'subscribed'; channel: string; seq: number; resumed: boolean; replayed: number; snapshot: unknown[]; snapshotError: boolean }
  | { type: 'gap'; channel: string; reason: string; from: number | null; to: number | null }
  | { type: 'unsubscribed'; channel: string }
  | { type: 'push'; kind: ChannelKind; channel: string; seq: number; data: unknown }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string }
  | { type: 'invalid'; reason: string };

export const SYMBOL_RE = /^[A-Z0-9]{2,20}$/;

export function channelOf(kind: ChannelKind, symbol: string): string {
  return `${kind}:${symbol}`;
}

/** The kind and symbol of a channel name, or null. */
export function splitChannel(channel: string): { kind: ChannelKind; symbol: string } | null {
  const i = channel.indexOf(':');
  const kind = channel.slice(0, i) as ChannelKind;
  const symbol = channel.slice(i + 1);
  return i > 0 && CHANNEL_KINDS.includes(kind) && SYMBOL_RE.test(symbol) ? { kind, symbol } : null;
}

function seqOf(x: unknown): number | undefined {
  const n = finite(x);
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}

function nullableSeq(x: unknown): number | null {
  return seqOf(x) ?? null;
}

function invalid(reason: string): ServerMessage {
  return { type: 'invalid', reason };
}

/** One text frame from the server; `invalid` (with why) for anything outside the protocol. */
export function parseServerMessage(frame: unknown): ServerMessage {
  if (typeof frame !== 'string') return invalid('not a text frame');
  let msg: unknown;
  try {
    msg = JSON.parse(frame);
  } catch {
    return invalid('not JSON');
  }
  if (!isObject(msg) || typeof msg.type !== 'string') return invalid('no type');
  const channel = typeof msg.channel === 'string' ? msg.channel : null;
  switch (msg.type) {
    case 'hello':
      return typeof msg.epoch === 'string' && msg.epoch.length > 0 ? { type: 'hello', epoch: msg.epoch } : invalid('hello without epoch');
    case 'subscribed': {
      const seq = seqOf(msg.seq);
      if (channel === null || seq === undefined) return invalid('subscribed without channel or seq');
      return {
        type: 'subscribed',
        channel,
        seq,
        resumed: msg.resumed === true,
        replayed: seqOf(msg.replayed) ?? 0,
        snapshot: Array.isArray(msg.snapshot) ? msg.snapshot : [],
        snapshotError: typeof msg.snapshotError === 'string',
      };
    }
    case 'gap':
      if (channel === null) return invalid('gap without channel');
      return { type: 'gap', channel, reason: typeof msg.reason === 'string' ? msg.reason : 'unknown', from: nullableSeq(msg.from), to: nullableSeq(msg.to) };
    case 'unsubscribed':
      return channel === null ? invalid('unsubscribed without channel') : { type: 'unsubscribed', channel };
    case 'pong':
      return { type: 'pong' };
    case 'error':
      return { type: 'error', code: typeof msg.code === 'string' ? msg.code : 'ERR_UNKNOWN', message: typeof msg.message === 'string' ? msg.message : '' };
    default:
      return parsePush(msg, channel);
  }
}

function parsePush(msg: Record<string, unknown>, channel: string | null): ServerMessage {
  const type = msg.type as string;
  if (!Object.hasOwn(PUSH_TYPES, type)) return invalid(`unknown type ${type.slice(0, 40)}`);
  const kind = PUSH_TYPES[type as PushType];
  const seq = seqOf(msg.seq);
  if (channel === null || seq === undefined || seq < 1) return invalid(`${type} without channel or seq`);
  if (splitChannel(channel)?.kind !== kind) return invalid(`${type} on channel ${channel.slice(0, 60)}`);
  return { type: 'push', kind, channel, seq, data: msg.data };
}

/** Where a client stands on one channel: the gateway process (epoch) and the last seq it got. */
export interface Cursor {
  epoch: string;
  seq: number;
}

export type SeqStep = 'next' | 'duplicate' | 'hole';

/**
 * A pushed message against the last seq of its channel: the next one, one already seen (a replay
 * overlapping what arrived; dropped), or one after a hole (messages were lost: refill from REST).
 */
export function seqStep(last: number | null, seq: number): SeqStep {
  if (last === null || seq === last + 1) return 'next';
  return seq <= last ? 'duplicate' : 'hole';
}

export interface SubscribeRequest {
  op: 'subscribe';
  channel: string;
  id: number;
  resume?: Cursor;
}

/**
 * Subscribe with the resume point whenever there is one, even after the gateway changed (another
 * epoch): the server then answers with a `gap` (reason epoch), which tells the page to refill what
 * it missed, instead of a silent fresh snapshot.
 */
export function subscribeRequest(channel: string, cursor: Cursor | undefined, id: number): SubscribeRequest {
  return cursor === undefined ? { op: 'subscribe', channel, id } : { op: 'subscribe', channel, id, resume: { epoch: cursor.epoch, seq: cursor.seq } };
}

/** How a (re)subscription went, from the server's answers. */
export type ResumeOutcome = 'fresh' | 'resumed' | 'gap';

/** The connection state after every channel of a reconnect answered. */
export function reconnectState(outcomes: readonly ResumeOutcome[], firstConnection: boolean): 'live' | 'resumed' | 'resumed-gap-filled' {
  if (firstConnection) return 'live';
  if (outcomes.includes('gap')) return 'resumed-gap-filled';
  return outcomes.length > 0 && outcomes.every((o) => o === 'resumed') ? 'resumed' : 'live';
}

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_SPREAD_MS = 500;
export const BACKOFF_MAX_MS = 30_000;

/**
 * Wait before reconnect attempt `attempt` (1, 2, ...): 0.25 s plus a random share of 0.5 s x
 * 2^attempt, capped at 30 s (docs/websocket.md). The jitter keeps many pages from reconnecting
 * in step after a gateway restart.
 */
export function backoffDelay(attempt: number, random: number): number {
  const spread = BACKOFF_SPREAD_MS * 2 ** Math.min(Math.max(attempt, 0), 16);
  const r = Number.isFinite(random) ? Math.min(Math.max(random, 0), 1) : 0.5;
  return Math.min(BACKOFF_MAX_MS, Math.round(BACKOFF_BASE_MS + r * spread));
}

export type CloseMeaning = 'revoked' | 'retry' | 'fix-client';

/** What a close code tells the page to do. 4001: the key was revoked; ask for another, do not retry. */
export function closeMeaning(code: number): CloseMeaning {
  if (code === 4001) return 'revoked';
  if (code === 1009) return 'fix-client';
  return 'retry';
}

/** Words for a close code, for the connection badge. */
export function closeWords(code: number): string {
  const words: Record<number, string> = {
    1000: 'closed',
    1001: 'gateway restarting',
    1006: 'connection lost or refused',
    1009: 'message too large',
    4000: 'idle',
    4001: 'API key revoked',
    4008: 'too slow to keep up',
    4029: 'rate limited',
  };
  return words[code] ?? `closed (code ${code})`;
}
