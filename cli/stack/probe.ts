// Wire-level probes that tell "a Kafka / registry / Redis answers here" apart from "something
// else holds the port" without pulling in the client libraries (only core/kafka may import
// kafkajs). Every probe has a deadline and resolves; none throws or hangs.
import { connect, type Socket } from 'node:net';
import type { HostPort } from './layout.js';

const APIVERSIONS_KEY = 18;
// Kafka answers an ApiVersions request it cannot parse with UNSUPPORTED_VERSION in a v0 body,
// so v0 works against every broker version; 35 is that error code.
const UNSUPPORTED_VERSION = 35;

/** Kafka ApiVersions v0 request with a size prefix (request header v1, empty body). */
export function encodeApiVersionsRequest(correlationId: number, clientId = 'bitpredict-stack'): Buffer {
  const client = Buffer.from(clientId, 'utf8');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + client.length);
  body.writeInt16BE(APIVERSIONS_KEY, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(correlationId, 4);
  body.writeInt16BE(client.length, 8);
  client.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

export type ApiVersionsVerdict = 'kafka' | 'not-kafka' | 'incomplete';

/** Judges bytes read so far in answer to encodeApiVersionsRequest(correlationId). */
export function judgeApiVersionsResponse(buf: Buffer, correlationId: number): ApiVersionsVerdict {
  if (buf.length < 10) return 'incomplete';
  const size = buf.readInt32BE(0);
  // A broker's ApiVersions answer is a few hundred bytes; anything else is another protocol.
  if (size < 6 || size > 1_000_000) return 'not-kafka';
  if (buf.readInt32BE(4) !== correlationId) return 'not-kafka';
  const errorCode = buf.readInt16BE(8);
  return errorCode === 0 || errorCode === UNSUPPORTED_VERSION ? 'kafka' : 'not-kafka';
}

function withSocket<T>(hp: HostPort, timeoutMs: number, onTimeout: T, drive: (socket: Socket, done: (v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolvePromise) => {
    let settled = false;
    const socket = connect({ host: hp.host, port: hp.port });
    const done = (v: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolvePromise(v);
    };
    const timer = setTimeout(() => done(onTimeout), timeoutMs);
    socket.on('error', () => done(onTimeout));
    drive(socket, done);
  });
}

/** True when something accepts TCP connections on host:port. */
export function isPortOpen(hp: HostPort, timeoutMs = 1000): Promise<boolean> {
  return withSocket(hp, timeoutMs, false, (socket, done) => {
    socket.on('connect', () => done(true));
  });
}

export type ProbeResult = 'answers' | 'closed' | 'foreign';

async function classify(hp: HostPort, answered: boolean): Promise<ProbeResult> {
  if (answered) return 'answers';
  return (await isPortOpen(hp)) ? 'foreign' : 'closed';
}

/** "answers" when a Kafka broker answers ApiVersions on host:port. */
export async function probeKafka(hp: HostPort, timeoutMs = 2000): Promise<ProbeResult> {
  const correlationId = 0x5b1c0de & 0x7fffffff;
  const ok = await withSocket(hp, timeoutMs, false, (socket, done) => {
    let buf = Buffer.alloc(0);
    socket.on('connect', () => socket.write(encodeApiVersionsRequest(correlationId)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const verdict = judgeApiVersionsResponse(buf, correlationId);
      if (verdict !== 'incomplete') done(verdict === 'kafka');
    });
    socket.on('end', () => done(false));
  });
  return classify(hp, ok);
}

/** "answers" when GET url answers 200. */
export async function probeHttp(url: string, hp: HostPort, timeoutMs = 2000): Promise<ProbeResult> {
  let ok = false;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    ok = res.status === 200;
    await res.body?.cancel();
  } catch {
    ok = false;
  }
  return classify(hp, ok);
}

export type RedisPing = 'pong' | 'auth-required' | 'no-answer';

/** Parses the first RESP reply line to PING (after an optional AUTH reply). */
export function judgeRedisReply(text: string, sentAuth: boolean): RedisPing | 'incomplete' {
  const lines = text.split('\r\n');
  const needed = sentAuth ? 2 : 1;
  if (lines.length <= needed) return 'incomplete';
  const pingReply = lines[needed - 1] ?? '';
  if (pingReply === '+PONG') return 'pong';
  if (/^-(NOAUTH|WRONGPASS|ERR.*(AUTH|password))/i.test(pingReply) || /^-(NOAUTH|WRONGPASS)/i.test(lines[0] ?? '')) return 'auth-required';
  return 'no-answer';
}

function respCommand(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** PING (after AUTH when a password is configured) over RESP. */
export function pingRedis(hp: HostPort, password: string | null, timeoutMs = 1500): Promise<RedisPing> {
  return withSocket<RedisPing>(hp, timeoutMs, 'no-answer', (socket, done) => {
    let text = '';
    const sentAuth = password !== null;
    socket.on('connect', () => {
      const auth = sentAuth ? respCommand(['AUTH', password]) : '';
      socket.write(auth + respCommand(['PING']));
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const verdict = judgeRedisReply(text, sentAuth);
      if (verdict !== 'incomplete') done(verdict);
      else if (text.length > 4096) done('no-answer');
    });
    socket.on('end', () => done('no-answer'));
  });
}

const DESCRIBE_QUORUM_KEY = 55;
const METADATA_TOPIC = '__cluster_metadata';

/**
 * DescribeQuorum v0 of the KRaft metadata partition (flexible: request header v2, compact
 * strings and arrays), with a size prefix. A broker forwards it to the active controller.
 */
export function encodeDescribeQuorumRequest(correlationId: number, clientId = 'bitpredict-stack'): Buffer {
  const client = Buffer.from(clientId, 'utf8');
  const topic = Buffer.from(METADATA_TOPIC, 'utf8');
  const header = Buffer.alloc(2 + 2 + 4 + 2);
  header.writeInt16BE(DESCRIBE_QUORUM_KEY, 0);
  header.writeInt16BE(0, 2);
  header.writeInt32BE(correlationId, 4);
  header.writeInt16BE(client.length, 8);
  const partition = Buffer.alloc(4);
  partition.writeInt32BE(0, 0);
  // Lengths below 128 are one varint byte: length + 1 for compact strings and arrays.
  const body = Buffer.concat([
    header,
    client,
    Buffer.from([0]), // header tags
    Buffer.from([2, topic.length + 1]), // one topic, its name
    topic,
    Buffer.from([2]), // one partition
    partition,
    Buffer.from([0, 0, 0]), // partition, topic and request tags
  ]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

export interface QuorumLeader {
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

function readUVarint(buf: Buffer, at: number): { value: number; next: number } {
  let value = 0;
  for (let shift = 0, i = at; i < buf.length && shift < 35; shift += 7, i++) {
    const b = buf[i] as number;
    value |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return { value, next: i + 1 };
  }
  throw new RangeError('truncated varint');
}

/**
 * The leader of the metadata partition from a DescribeQuorum v0 answer (size prefix included);
 * 'incomplete' until the whole answer is in. Throws on a Kafka error code or a malformed answer.
 */
export function parseDescribeQuorumResponse(buf: Buffer, correlationId: number): QuorumLeader | 'incomplete' {
  if (buf.length < 4) return 'incomplete';
  const size = buf.readInt32BE(0);
  if (size < 8 || size > 1_000_000) throw new RangeError(`not a DescribeQuorum answer (size ${size})`);
  if (buf.length < 4 + size) return 'incomplete';
  const b = buf.subarray(4, 4 + size);
  if (b.readInt32BE(0) !== correlationId) throw new RangeError('DescribeQuorum answer with another correlation id');
  let at = readUVarint(b, 4).next; // response header tags (none expected: count 0)
  const top = b.readInt16BE(at);
  if (top !== 0) throw new RangeError(`DescribeQuorum error code ${top}`);
  at += 2;
  const topics = readUVarint(b, at);
  if (topics.value < 2) throw new RangeError('DescribeQuorum answer without the metadata topic');
  const name = readUVarint(b, topics.next);
  at = name.next + name.value - 1;
  const partitions = readUVarint(b, at);
  if (partitions.value < 2) throw new RangeError('DescribeQuorum answer without the metadata partition');
  at = partitions.next + 4; // partition index
  const code = b.readInt16BE(at);
  if (code !== 0) throw new RangeError(`DescribeQuorum partition error code ${code}`);
  return { leaderId: b.readInt32BE(at + 2), leaderEpoch: b.readInt32BE(at + 6) };
}

/** The active controller as the broker on host:port reports it; null when it does not answer or has none. */
export function describeQuorumLeader(hp: HostPort, timeoutMs = 5000): Promise<QuorumLeader | null> {
  const correlationId = 0x0c0de55;
  return withSocket<QuorumLeader | null>(hp, timeoutMs, null, (socket, done) => {
    let buf = Buffer.alloc(0);
    socket.on('connect', () => socket.write(encodeDescribeQuorumRequest(correlationId)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        const r = parseDescribeQuorumResponse(buf, correlationId);
        if (r !== 'incomplete') done(r.leaderId >= 0 ? r : null);
      } catch {
        done(null);
      }
    });
    socket.on('end', () => done(null));
  });
}
