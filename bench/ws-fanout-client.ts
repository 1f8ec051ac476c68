// Client driver for bench/ws-fanout.ts, run as a child process (child_process.fork) so that thousands
// of WebSocket clients never share an event loop with the server they measure. The parent talks to
// it over the IPC channel only (DriverCommand in, DriverEvent out).
//
// Per delivered prediction the hot path does no JSON.parse: every client receives the same bytes,
// and parsing 250k messages/s would make this process, not the server, the bottleneck. The few
// numbers needed (eventTime as the message index, predictedAt as the send stamp, seq) are read
// straight from the frame. Control messages (hello, subscribed, errors) are rare and parsed fully.
//
// Latencies are kept as a histogram of whole milliseconds (predictedAt is an Avro timestamp-millis,
// so finer buckets would be false precision); the parent merges histograms over processes.
import WebSocket from 'ws';

export type DriverCommand =
  /** Open `count` sockets to `url`; `subscribe` null means a bare broadcast server (no protocol). */
  | { cmd: 'connect'; url: string; count: number; subscribe: string | null; concurrency: number }
  /** Count predictions whose eventTime is in [from, to) from now on. */
  | { cmd: 'measure'; from: number; to: number }
  | { cmd: 'count' }
  | { cmd: 'report' }
  | { cmd: 'disconnect' }
  | { cmd: 'exit' };

export interface DriverReport {
  delivered: number;
  /** [latency ms, count] for every non-empty bucket. */
  histogram: [number, number][];
  /** Latest receipt (Date.now()) of a measured message, 0 if none. */
  lastReceiptAt: number;
  /** Measured messages that arrived with an index not above the previous one (duplicate or reordered). */
  outOfOrder: number;
  /** Jumps in the per-channel seq (v2 only; v1 messages have no seq). */
  seqGaps: number;
  /** Sockets closed by the server during the run, by close code. */
  closes: Record<string, number>;
  /** `type:"error"` messages from the server. */
  errors: number;
}

export type DriverEvent =
  | { ev: 'connected'; open: number; failed: number; firstError?: string; protocol: number | null }
  | { ev: 'count'; delivered: number; open: number }
  | { ev: 'report'; report: DriverReport }
  | { ev: 'disconnected' }
  | { ev: 'failed'; message: string };

const MAX_LATENCY_MS = 60_000;
const TYPE_PREDICTION = Buffer.from('"type":"prediction"');
const TYPE_SUBSCRIBED = Buffer.from('"type":"subscribed"');
const KEY_EVENT_TIME = Buffer.from('"eventTime":');
const KEY_PREDICTED_AT = Buffer.from('"predictedAt":');
const KEY_SEQ = Buffer.from('"seq":');

/** The non-negative integer right after `key` in `buf`, or -1 (absent or not an integer). */
export function integerAfter(buf: Buffer, key: Buffer): number {
  const at = buf.indexOf(key);
  if (at < 0) return -1;
  let i = at + key.length;
  while (buf[i] === 0x20) i++;
  let n = 0;
  let digits = 0;
  for (; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
    digits++;
  }
  return digits === 0 ? -1 : n;
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

interface Client {
  ws: WebSocket;
  lastIndex: number;
  lastSeq: number;
}

export function createDriver(send: (e: DriverEvent) => void): { handle(c: DriverCommand): Promise<void> } {
  let clients: Client[] = [];
  let window = { from: 0, to: -1 };
  let histogram = new Uint32Array(MAX_LATENCY_MS + 1);
  let delivered = 0;
  let lastReceiptAt = 0;
  let outOfOrder = 0;
  let seqGaps = 0;
  let closes: Record<string, number> = {};
  let errors = 0;
  let protocol: number | null = null;
  let disconnecting = false;

  function resetStats(): void {
    histogram = new Uint32Array(MAX_LATENCY_MS + 1);
    delivered = 0;
    lastReceiptAt = 0;
    outOfOrder = 0;
    seqGaps = 0;
    closes = {};
    errors = 0;
  }

  function onPrediction(client: Client, buf: Buffer): void {
    const now = Date.now();
    const seq = integerAfter(buf, KEY_SEQ);
    if (seq >= 0) {
      if (client.lastSeq >= 0 && seq !== client.lastSeq + 1) seqGaps++;
      client.lastSeq = seq;
    }
    const index = integerAfter(buf, KEY_EVENT_TIME);
    if (index < window.from || index >= window.to) return;
    if (index <= client.lastIndex) outOfOrder++;
    client.lastIndex = index;
    const sentAt = integerAfter(buf, KEY_PREDICTED_AT);
    const latency = Math.min(MAX_LATENCY_MS, Math.max(0, now - sentAt));
    histogram[latency] = (histogram[latency] as number) + 1;
    delivered++;
    if (now > lastReceiptAt) lastReceiptAt = now;
  }

  /** Opens one socket; resolves once it is ready to receive (subscribed, or open for bare ws). */
  function open(url: string, subscribe: string | null): Promise<Client> {
    return new Promise((resolve, reject) => {
      // The clients are the instrument, not the system under test: skip UTF-8 validation of
      // every frame so that they spend less of the shared CPU than the servers they measure.
      const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true });
      const client: Client = { ws, lastIndex: -1, lastSeq: -1 };
      let ready = false;
      const settle = (err?: Error): void => {
        if (ready) return;
        ready = true;
        clearTimeout(timer);
        if (err) {
          ws.terminate();
          reject(err);
        } else {
          resolve(client);
        }
      };
      const timer = setTimeout(() => settle(new Error(`no ${subscribe ? 'subscribed reply' : 'open'} within 30 s`)), 30_000);
      ws.on('error', (err) => settle(err));
      ws.on('close', (code) => {
        if (!ready) settle(new Error(`closed with ${code} before ready`));
        else if (!disconnecting) closes[String(code)] = (closes[String(code)] ?? 0) + 1;
      });
      ws.on('open', () => {
        if (!subscribe) settle();
      });
      ws.on('message', (data) => {
        const buf = toBuffer(data);
        // Until "subscribed" has arrived a frame may be the subscribed reply itself, whose snapshot
        // can quote predictions; after it, the only frames naming "prediction" are pushes.
        if (buf.indexOf(TYPE_PREDICTION) >= 0 && (ready || buf.indexOf(TYPE_SUBSCRIBED) < 0)) {
          onPrediction(client, buf);
          return;
        }
        let msg: { type?: unknown; protocol?: unknown; seq?: unknown };
        try {
          msg = JSON.parse(buf.toString('utf8')) as typeof msg;
        } catch {
          return;
        }
        if (msg.type === 'hello' && subscribe) {
          if (typeof msg.protocol === 'number') protocol = msg.protocol;
          ws.send(JSON.stringify({ op: 'subscribe', channel: subscribe, id: 1 }));
        } else if (msg.type === 'subscribed') {
          // v2: the next pushed message on the channel carries seq + 1.
          if (typeof msg.seq === 'number') client.lastSeq = msg.seq;
          settle();
        } else if (msg.type === 'error') {
          errors++;
        }
      });
    });
  }

  async function connect(url: string, count: number, subscribe: string | null, concurrency: number): Promise<void> {
    resetStats();
    disconnecting = false;
    let next = 0;
    let failed = 0;
    let firstError: string | undefined;
    // A bounded number of handshakes in flight: thousands of simultaneous SYNs overflow the
    // server's listen backlog and turn into one-second retransmits.
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++;
        try {
          clients.push(await open(url, subscribe));
        } catch (err) {
          failed++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    send({ ev: 'connected', open: clients.length, failed, protocol, ...(firstError ? { firstError } : {}) });
  }

  async function disconnect(): Promise<void> {
    disconnecting = true;
    const closing = clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          const timer = setTimeout(() => {
            c.ws.terminate();
            resolve();
          }, 5_000);
          c.ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          c.ws.close(1000, 'bench done');
        }),
    );
    await Promise.all(closing);
    clients = [];
    send({ ev: 'disconnected' });
  }

  function report(): DriverReport {
    const buckets: [number, number][] = [];
    for (let ms = 0; ms < histogram.length; ms++) {
      const n = histogram[ms] as number;
      if (n > 0) buckets.push([ms, n]);
    }
    return { delivered, histogram: buckets, lastReceiptAt, outOfOrder, seqGaps, closes, errors };
  }

  return {
    async handle(c) {
      switch (c.cmd) {
        case 'connect':
          return connect(c.url, c.count, c.subscribe, c.concurrency);
        case 'measure':
          window = { from: c.from, to: c.to };
          return;
        case 'count':
          send({ ev: 'count', delivered, open: clients.filter((x) => x.ws.readyState === WebSocket.OPEN).length });
          return;
        case 'report':
          send({ ev: 'report', report: report() });
          return;
        case 'disconnect':
          return disconnect();
        case 'exit':
          process.exit(0);
      }
    },
  };
}

// Started by fork(): serve the parent. Imported (tests, types): do nothing.
if (process.send && process.env.BENCH_WS_FANOUT_DRIVER === '1') {
  const driver = createDriver((e) => process.send?.(e));
  process.on('message', (c: DriverCommand) => {
    driver.handle(c).catch((err: unknown) => {
      process.send?.({ ev: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies DriverEvent);
    });
  });
  // The parent died or finished without saying so: do not linger with thousands of sockets.
  process.on('disconnect', () => process.exit(0));
}
