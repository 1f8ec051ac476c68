// Real-browser helpers for the dashboard tests and bench: Debian's chromium driven by
// playwright-core (npx playwright install cannot download a browser here), a console watcher that
// tells the page's own errors from the network noise a test provokes on purpose, a recorder of the
// page's connection and freshness states, and a TCP proxy the tests cut and refuse to simulate a
// dropped network between the browser and the gateway.
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { REPO_ROOT } from './platform.js';

// The knobs of these tests carry no BITPREDICT_ prefix: loadConfig refuses unknown BITPREDICT_*
// variables, so one set for the tests would stop every service the tests start.

/** The browser to drive: CHROMIUM_PATH if set, else Debian's /usr/bin/chromium; null when neither exists. */
export function chromiumPath(): string | null {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  return existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : null;
}

export const NO_CHROMIUM =
  'no Chromium: neither CHROMIUM_PATH nor /usr/bin/chromium exists, so the real-browser tests are skipped (install it with `apt-get install chromium`; .ci/run does)';

/**
 * Headless Chromium. The closed network refuses Chromium's own background connections (updates,
 * sync, safe browsing), so they are switched off; root cannot use the sandbox.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(NO_CHROMIUM);
  const args = ['--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath, headless: true, args });
}

/** Where screenshots and other test artifacts go: TEST_ARTIFACTS_DIR, default .stack/ci/artifacts (gitignored). */
export function artifactsDir(): string {
  const dir = resolve(REPO_ROOT, process.env.TEST_ARTIFACTS_DIR ?? '.stack/ci/artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Console

export interface ConsoleEntry {
  page: string;
  kind: 'console' | 'pageerror';
  text: string;
  url: string;
  /** The reason given to expectNetworkErrors() while this entry arrived, if any. */
  during: string | null;
}

/**
 * What Chromium itself logs as a console error when a request fails: a refused or reset connection,
 * a failed WebSocket handshake, a 401 answer. The page cannot prevent these lines; they are only
 * acceptable while a test provokes such a failure.
 */
const NETWORK_NOISE = [
  /^Failed to load resource: net::ERR_/,
  /^Failed to load resource: the server responded with a status of 401/,
  /^WebSocket connection to '.*' failed/,
];

export interface ConsoleWatch {
  readonly entries: readonly ConsoleEntry[];
  /** Follows a page's console errors and uncaught exceptions. */
  attach(page: Page, label: string): void;
  /** Runs fn with network-failure lines allowed (the test is cutting the network or using a bad key). */
  expectNetworkErrors<T>(why: string, fn: () => Promise<T>): Promise<T>;
  /** Every entry that is not network noise inside an expectNetworkErrors window. */
  unexpected(): ConsoleEntry[];
}

export function watchConsole(): ConsoleWatch {
  const entries: ConsoleEntry[] = [];
  let during: string | null = null;
  return {
    entries,
    attach(page, label) {
      page.on('console', (msg: ConsoleMessage) => {
        if (msg.type() !== 'error') return;
        entries.push({ page: label, kind: 'console', text: msg.text(), url: msg.location().url, during });
      });
      page.on('pageerror', (err: Error) => {
        entries.push({ page: label, kind: 'pageerror', text: err.stack ?? err.message, url: '', during });
      });
    },
    async expectNetworkErrors(why, fn) {
      during = why;
      try {
        return await fn();
      } finally {
        during = null;
      }
    },
    unexpected() {
      return entries.filter((e) => !(e.kind === 'console' && e.during !== null && NETWORK_NOISE.some((re) => re.test(e.text))));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// State history

export type StateHistory = { state: string; at: number }[];

// A string, not a function: the test runner's transform may wrap named functions in a helper
// (__name) that does not exist inside the page.
const RECORD_STATES = `(() => {
  const states = { conn: [], freshness: [] };
  window.__bpStates = states;
  window.__bpShifts = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.__bpShifts.push({ value: e.value, input: e.hadRecentInput, at: e.startTime });
  }).observe({ type: 'layout-shift', buffered: true });
  new MutationObserver(() => {
    for (const id of ['conn', 'freshness']) {
      const state = document.getElementById(id)?.getAttribute('data-state');
      const list = states[id];
      if (state && (list.length === 0 || list[list.length - 1].state !== state)) list.push({ state, at: performance.now() });
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
})();`;

/**
 * Records every value #conn and #freshness take (their data-state), from the first script on, in
 * window.__bpStates. Short states (a reconnect that lasts 50 ms) would slip between two polls; a
 * MutationObserver sees each one. Also keeps the page's layout shifts (window.__bpShifts).
 */
export async function recordStates(context: BrowserContext): Promise<void> {
  await context.addInitScript(RECORD_STATES);
}

export async function stateHistory(page: Page, id: 'conn' | 'freshness'): Promise<StateHistory> {
  return page.evaluate((which) => (window as unknown as { __bpStates: Record<string, StateHistory> }).__bpStates[which] ?? [], id);
}

/**
 * The layout shift score of the page so far (the sum of its layout-shift entries, as Chromium
 * scores them for CLS), leaving out shifts within 500 ms of user input.
 */
export async function layoutShift(page: Page): Promise<number> {
  const shifts = await page.evaluate(() => (window as unknown as { __bpShifts: { value: number; input: boolean }[] }).__bpShifts);
  return shifts.filter((s) => !s.input).reduce((sum, s) => sum + s.value, 0);
}

/** True if `states` holds the given states in this order (others may come between). */
export function inOrder(history: StateHistory, states: readonly string[]): boolean {
  let i = 0;
  for (const h of history) if (h.state === states[i]) i++;
  return i === states.length;
}

// ---------------------------------------------------------------------------------------------
// TCP proxy

export interface TcpProxy {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Connections accepted and forwarded so far. */
  readonly accepted: number;
  /** Resets every open connection (the browser sees the network drop, no close frame). */
  cut(): void;
  /** While on, new connections are reset as soon as they arrive (and open ones are cut). */
  refuse(on: boolean): void;
  close(): Promise<void>;
}

/**
 * A byte-for-byte TCP forwarder to 127.0.0.1:targetPort that a test can cut and refuse, listening
 * on listenPort (default: any free port).
 */
export async function startTcpProxy(targetPort: number, listenPort = 0): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let refusing = false;
  let accepted = 0;
  const track = (s: Socket): void => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };
  const server: Server = createServer((client) => {
    if (refusing) {
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    // Either side failing or closing takes the other down, as a dropped link would.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(listenPort, '127.0.0.1', () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const cut = (): void => {
    for (const s of open) s.resetAndDestroy();
    open.clear();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get accepted() {
      return accepted;
    },
    cut,
    refuse(on) {
      refusing = on;
      if (on) cut();
    },
    async close() {
      cut();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
