// The page's entry: finds the elements, builds the REST client, the stream, the chart and the
// controller, and wires the controls. Bundled by esbuild (gateway/web-bundle.ts) into
// gateway/public/build/app.js, which the gateway serves.
import { AuthError, createApi, NetworkError } from './api.js';
import { createController, type PageDom } from './controller.js';
import { parseToggles, TOGGLES, type Toggles } from './indicators.js';
import { createKeyStore, keyFromFragment, type KeyStore } from './key.js';
import { SYMBOL_RE } from './protocol.js';
import { createStream, type SocketLike, type StreamHandlers } from './stream.js';
import { createChartView } from './view/chart.js';
import { byId } from './view/dom.js';
import { createKeyDialog, type KeyVerdict } from './view/key-dialog.js';

const INTERVALS = ['1m', '5m', '15m', '1h', '4h', '1d'];

function findDom(): PageDom {
  return {
    body: document.body,
    chart: byId('chart'),
    conn: byId('conn'),
    freshness: byId('freshness'),
    notice: byId('notice'),
    forecastRows: byId('forecast-rows'),
    forecastMade: byId('forecast-made'),
    outcomesSummary: byId('outcomes-summary'),
    outcomeRows: byId('outcome-rows'),
    skillList: byId('skill-windows'),
    skillNotice: byId('skill-notice'),
    skillHorizon: byId<HTMLSelectElement>('skill-horizon'),
    health: byId('health-fields'),
  };
}

function sessionStorageOrNull(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/** A key in the address (#key=...), moved into the session and out of the address bar. */
function takeFragmentKey(keys: KeyStore): void {
  const key = keyFromFragment(location.hash);
  if (key === null) return;
  keys.set(key);
  history.replaceState(null, '', location.pathname + location.search);
}

/** The browser's WebSocket behind the small interface the stream uses. */
function openSocket(keys: KeyStore): SocketLike {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const key = keys.get();
  // Browsers cannot set headers on a WebSocket: the key rides on the query (the gateway redacts it from its logs).
  const ws = new WebSocket(`${proto}//${location.host}/ws${key === null ? '' : `?api_key=${encodeURIComponent(key)}`}`);
  const sock: SocketLike = {
    get readyState() {
      return ws.readyState;
    },
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  ws.onopen = (ev) => sock.onopen?.(ev);
  ws.onmessage = (ev: MessageEvent) => sock.onmessage?.({ data: ev.data });
  ws.onclose = (ev) => sock.onclose?.({ code: ev.code });
  ws.onerror = (ev) => sock.onerror?.(ev);
  return sock;
}

function streamOf(keys: KeyStore, handlers: StreamHandlers) {
  return createStream({
    open: () => openSocket(keys),
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (h) => window.clearTimeout(h as number | undefined),
    random: Math.random,
    now: Date.now,
    handlers,
  });
}

function readToggles(): Toggles {
  return Object.fromEntries(TOGGLES.map((t) => [t, byId<HTMLInputElement>(`toggle-${t}`).checked])) as Toggles;
}

function initialSeries(): { symbol: string; interval: string } {
  const q = new URLSearchParams(location.search);
  const symbol = (q.get('symbol') ?? 'BTCUSDT').toUpperCase();
  const interval = q.get('interval') ?? '1h';
  return { symbol: SYMBOL_RE.test(symbol) ? symbol : 'BTCUSDT', interval: INTERVALS.includes(interval) ? interval : '1h' };
}

function remember(symbol: string, interval: string): void {
  const url = new URL(location.href);
  url.searchParams.set('symbol', symbol);
  url.searchParams.set('interval', interval);
  history.replaceState(null, '', url);
}

function boot(): void {
  const keys = createKeyStore(sessionStorageOrNull());
  takeFragmentKey(keys);
  const fetchJson = (url: string, init: { headers: Record<string, string>; signal?: AbortSignal }) => window.fetch(url, init);
  const dom = findDom();
  const chart = createChartView(dom.chart);
  const dialog = createKeyDialog({
    dialog: byId<HTMLDialogElement>('key-dialog'),
    form: byId<HTMLFormElement>('key-form'),
    input: byId<HTMLInputElement>('api-key'),
    error: byId('key-error'),
    tryKey: async (key): Promise<KeyVerdict> => {
      try {
        await createApi({ fetch: fetchJson, key: () => key }).models();
        keys.set(key);
        return 'ok';
      } catch (err) {
        return err instanceof AuthError ? 'refused' : err instanceof NetworkError ? 'unreachable' : 'ok';
      }
    },
    accepted: () => controller.keyAccepted(),
  });
  const controller = createController({
    dom,
    chart,
    api: (signal) => createApi({ fetch: fetchJson, key: () => keys.get(), signal }),
    stream: (handlers) => streamOf(keys, handlers),
    now: Date.now,
    frame: (fn) => requestAnimationFrame(fn),
    mark: (name) => performance.mark(name),
    askForKey: (reason) => {
      // A 401 with a key in the session means that key is wrong or revoked.
      const had = keys.get() !== null;
      keys.clear();
      dialog.ask(reason === 'needed' && had ? 'refused' : reason);
    },
  });

  const symbolInput = byId<HTMLInputElement>('symbol');
  const intervalSelect = byId<HTMLSelectElement>('interval');
  const series = initialSeries();
  symbolInput.value = series.symbol;
  intervalSelect.value = series.interval;
  const show = (): void => {
    const symbol = symbolInput.value.trim().toUpperCase();
    if (!SYMBOL_RE.test(symbol)) {
      symbolInput.setCustomValidity('2 to 20 letters or digits, for example BTCUSDT');
      symbolInput.reportValidity();
      return;
    }
    symbolInput.setCustomValidity('');
    symbolInput.value = symbol;
    remember(symbol, intervalSelect.value);
    controller.show(symbol, intervalSelect.value);
  };
  byId<HTMLFormElement>('series-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    show();
  });
  intervalSelect.addEventListener('change', show);

  const initial = parseToggles(new URLSearchParams(location.search).get('show'));
  for (const t of TOGGLES) {
    const box = byId<HTMLInputElement>(`toggle-${t}`);
    box.checked = initial[t];
    box.addEventListener('change', () => controller.toggles(readToggles()));
  }
  controller.toggles(initial);
  dom.skillHorizon.addEventListener('change', () => controller.skillHorizonChanged());
  window.setInterval(() => controller.tick(), 1000);
  controller.show(series.symbol, series.interval);
}

boot();
