import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  describeQuorumLeader,
  encodeApiVersionsRequest,
  encodeDescribeQuorumRequest,
  isPortOpen,
  judgeApiVersionsResponse,
  judgeRedisReply,
  parseDescribeQuorumResponse,
  pingRedis,
  probeHttp,
  probeKafka,
} from './probe.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

/** Loopback TCP server that hands every connection to `onSocket`; returns its port. */
async function serve(onSocket: (s: Socket) => void): Promise<number> {
  const server = createServer((s) => {
    sockets.push(s);
    onSocket(s);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

/** A port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (addr === null || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

afterEach(async () => {
  // Server-side sockets that never read (the "silent" fakes) would keep close() waiting.
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

function apiVersionsResponse(correlationId: number, errorCode: number, size?: number): Buffer {
  const body = Buffer.alloc(4 + 2 + 4);
  body.writeInt32BE(correlationId, 0);
  body.writeInt16BE(errorCode, 4);
  body.writeInt32BE(0, 6);
  const head = Buffer.alloc(4);
  head.writeInt32BE(size ?? body.length, 0);
  return Buffer.concat([head, body]);
}

describe('ApiVersions encoding and judging', () => {
  it('encodes a size-prefixed ApiVersions v0 request', () => {
    const req = encodeApiVersionsRequest(7, 'ab');
    expect(req.readInt32BE(0)).toBe(req.length - 4);
    expect(req.readInt16BE(4)).toBe(18);
    expect(req.readInt16BE(6)).toBe(0);
    expect(req.readInt32BE(8)).toBe(7);
    expect(req.readInt16BE(12)).toBe(2);
    expect(req.subarray(14).toString()).toBe('ab');
  });

  it('accepts a matching answer, also UNSUPPORTED_VERSION', () => {
    expect(judgeApiVersionsResponse(apiVersionsResponse(7, 0), 7)).toBe('kafka');
    expect(judgeApiVersionsResponse(apiVersionsResponse(7, 35), 7)).toBe('kafka');
  });

  it('waits for more bytes on a truncated answer', () => {
    expect(judgeApiVersionsResponse(apiVersionsResponse(7, 0).subarray(0, 9), 7)).toBe('incomplete');
    expect(judgeApiVersionsResponse(Buffer.alloc(0), 7)).toBe('incomplete');
  });

  it('rejects other protocols, wrong correlation ids, absurd sizes and other errors', () => {
    expect(judgeApiVersionsResponse(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), 7)).toBe('not-kafka');
    expect(judgeApiVersionsResponse(apiVersionsResponse(8, 0), 7)).toBe('not-kafka');
    expect(judgeApiVersionsResponse(apiVersionsResponse(7, 0, 50_000_000), 7)).toBe('not-kafka');
    expect(judgeApiVersionsResponse(apiVersionsResponse(7, 0, -1), 7)).toBe('not-kafka');
    expect(judgeApiVersionsResponse(apiVersionsResponse(7, 3), 7)).toBe('not-kafka');
  });
});

describe('judgeRedisReply', () => {
  it.each([
    ['+PONG\r\n', false, 'pong'],
    ['+OK\r\n+PONG\r\n', true, 'pong'],
    ['-NOAUTH Authentication required.\r\n', false, 'auth-required'],
    ['-WRONGPASS invalid username-password pair\r\n-NOAUTH Authentication required.\r\n', true, 'auth-required'],
    ['+PON', false, 'incomplete'],
    ['+OK\r\n', true, 'incomplete'],
    ['HTTP/1.1 400 Bad Request\r\n', false, 'no-answer'],
    ['-ERR unknown command\r\n', false, 'no-answer'],
  ] as const)('%j (auth sent: %j) -> %s', (text, auth, want) => {
    expect(judgeRedisReply(text, auth)).toBe(want);
  });
});

describe('probes against loopback servers', () => {
  it('probeKafka: answers for a fake broker, foreign for HTTP, closed for nothing', async () => {
    const kafkaPort = await serve((s) => {
      s.once('data', (req: Buffer) => s.write(apiVersionsResponse(req.readInt32BE(8), 0)));
    });
    const httpPort = await serve((s) => {
      s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'));
    });
    expect(await probeKafka({ host: '127.0.0.1', port: kafkaPort })).toBe('answers');
    expect(await probeKafka({ host: '127.0.0.1', port: httpPort })).toBe('foreign');
    expect(await probeKafka({ host: '127.0.0.1', port: await closedPort() })).toBe('closed');
  });

  it('probeKafka: a server that never answers or hangs up mid-answer is foreign, not a hang', async () => {
    const silent = await serve(() => undefined);
    const truncating = await serve((s) => {
      s.once('data', (req: Buffer) => s.end(apiVersionsResponse(req.readInt32BE(8), 0).subarray(0, 6)));
    });
    expect(await probeKafka({ host: '127.0.0.1', port: silent }, 300)).toBe('foreign');
    expect(await probeKafka({ host: '127.0.0.1', port: truncating }, 2000)).toBe('foreign');
  });

  it('probeHttp: 200 answers, 404 and garbage are foreign', async () => {
    const ok = await serve((s) =>
      s.once('data', () => s.end('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]')),
    );
    const missing = await serve((s) => s.once('data', () => s.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')));
    const garbage = await serve((s) => s.once('data', () => s.end('+PONG\r\n')));
    expect(await probeHttp(`http://127.0.0.1:${ok}/subjects`, { host: '127.0.0.1', port: ok })).toBe('answers');
    expect(await probeHttp(`http://127.0.0.1:${missing}/subjects`, { host: '127.0.0.1', port: missing })).toBe('foreign');
    expect(await probeHttp(`http://127.0.0.1:${garbage}/subjects`, { host: '127.0.0.1', port: garbage })).toBe('foreign');
    const closed = await closedPort();
    expect(await probeHttp(`http://127.0.0.1:${closed}/subjects`, { host: '127.0.0.1', port: closed })).toBe('closed');
  });

  it('pingRedis: PONG, password needed, AUTH sent first, and silence', async () => {
    const redis = await serve((s) => s.on('data', () => s.write('+PONG\r\n')));
    const locked = await serve((s) => s.on('data', () => s.write('-NOAUTH Authentication required.\r\n')));
    let received = '';
    const withAuth = await serve((s) =>
      s.on('data', (d: Buffer) => {
        received += d.toString();
        if (received.includes('PING')) s.write('+OK\r\n+PONG\r\n');
      }),
    );
    const silent = await serve(() => undefined);
    expect(await pingRedis({ host: '127.0.0.1', port: redis }, null)).toBe('pong');
    expect(await pingRedis({ host: '127.0.0.1', port: locked }, null)).toBe('auth-required');
    expect(await pingRedis({ host: '127.0.0.1', port: withAuth }, 'pw')).toBe('pong');
    expect(received).toBe('*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$4\r\nPING\r\n');
    expect(await pingRedis({ host: '127.0.0.1', port: silent }, null, 300)).toBe('no-answer');
    expect(await pingRedis({ host: '127.0.0.1', port: await closedPort() }, null)).toBe('no-answer');
  });

  it('pingRedis: an endless stream without line ends is given up on', async () => {
    const flood = await serve((s) => s.once('data', () => s.write('x'.repeat(10_000))));
    expect(await pingRedis({ host: '127.0.0.1', port: flood }, null, 2000)).toBe('no-answer');
  });

  it('isPortOpen tells listening from closed', async () => {
    const port = await serve(() => undefined);
    expect(await isPortOpen({ host: '127.0.0.1', port })).toBe(true);
    expect(await isPortOpen({ host: '127.0.0.1', port: await closedPort() })).toBe(false);
  });
});

describe('DescribeQuorum (active controller of a cluster)', () => {
  /** A DescribeQuorum v0 answer as a broker sends it: header v1, one topic, one partition, no voters. */
  function answer(correlationId: number, opts: { top?: number; partition?: number; leader?: number; epoch?: number } = {}): Buffer {
    const topic = Buffer.from('__cluster_metadata');
    const head = Buffer.alloc(4);
    head.writeInt32BE(correlationId, 0);
    const top = Buffer.alloc(2);
    top.writeInt16BE(opts.top ?? 0, 0);
    const p = Buffer.alloc(4 + 2 + 4 + 4 + 8);
    p.writeInt32BE(0, 0);
    p.writeInt16BE(opts.partition ?? 0, 4);
    p.writeInt32BE(opts.leader ?? 2, 6);
    p.writeInt32BE(opts.epoch ?? 7, 10);
    const body = Buffer.concat([head, Buffer.from([0]), top, Buffer.from([2, topic.length + 1]), topic, Buffer.from([2]), p, Buffer.from([1, 1, 0, 0, 0])]);
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length, 0);
    return Buffer.concat([size, body]);
  }

  it('asks for partition 0 of __cluster_metadata with api key 55 v0 and a flexible header', () => {
    const req = encodeDescribeQuorumRequest(42, 'c');
    expect(req.readInt32BE(0)).toBe(req.length - 4);
    expect(req.readInt16BE(4)).toBe(55);
    expect(req.readInt16BE(6)).toBe(0);
    expect(req.readInt32BE(8)).toBe(42);
    expect(req.subarray(12).toString('latin1')).toContain('__cluster_metadata');
  });

  it('reads the leader and epoch, waits for the whole answer, and refuses errors and strangers', () => {
    const full = answer(9, { leader: 3, epoch: 5 });
    expect(parseDescribeQuorumResponse(full, 9)).toEqual({ leaderId: 3, leaderEpoch: 5 });
    expect(parseDescribeQuorumResponse(full.subarray(0, full.length - 3), 9)).toBe('incomplete');
    expect(parseDescribeQuorumResponse(full.subarray(0, 2), 9)).toBe('incomplete');
    expect(() => parseDescribeQuorumResponse(full, 8)).toThrow(/correlation/);
    expect(() => parseDescribeQuorumResponse(answer(9, { top: 35 }), 9)).toThrow(/error code 35/);
    expect(() => parseDescribeQuorumResponse(answer(9, { partition: 6 }), 9)).toThrow(/partition error code 6/);
    expect(() => parseDescribeQuorumResponse(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'), 9)).toThrow(/not a DescribeQuorum answer/);
  });

  it('gives null, not a hang, when nothing answers', async () => {
    expect(await describeQuorumLeader({ host: '127.0.0.1', port: 1 }, 500)).toBeNull();
  });
});
