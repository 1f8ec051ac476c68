// BitPredict dashboard: plain browser JavaScript, no build step, no third-party code.
// Speaks WebSocket protocol v1 (docs/websocket.md) to /ws on the page's own host. Everything the
// server sends is written with textContent, never parsed as HTML.

const MAX_ROWS = 50;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const SYMBOL_RE = /^[A-Z0-9]{2,20}$/;

const $ = (id) => document.getElementById(id);

const state = {
  ws: null,
  symbol: initialSymbol(),
  /** Channel the server has confirmed, so a symbol change can unsubscribe it. */
  subscribed: null,
  attempt: 0,
  reconnectTimer: null,
  predictions: [],
  keys: new Set(),
  /** Resume point: the gateway process (epoch) and the last seq seen on lastChannel. */
  epoch: null,
  lastSeq: null,
  lastChannel: null,
};

function initialSymbol() {
  const q = new URLSearchParams(location.search).get('symbol');
  const s = (q ?? 'BTCUSDT').toUpperCase();
  return SYMBOL_RE.test(s) ? s : 'BTCUSDT';
}

function channelOf(symbol) {
  return `predictions:${symbol}`;
}

function setConn(text, cls) {
  const el = $('conn');
  el.textContent = text;
  el.className = `conn conn-${cls}`;
}

function notice(text) {
  $('notice').textContent = text;
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

// Timestamps may arrive as epoch milliseconds or ISO strings; both become a Date.
function toDate(v) {
  const d = new Date(typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v);
  return Number.isNaN(d.getTime()) ? null : d;
}

function fmtTime(v) {
  const d = toDate(v);
  return d ? d.toISOString().slice(0, 16).replace('T', ' ') : '?';
}

function fmtPrice(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 }) : '?';
}

function fmtBp(logReturn) {
  if (typeof logReturn !== 'number' || !Number.isFinite(logReturn)) return '?';
  const bp = logReturn * 10_000;
  return `${bp > 0 ? '+' : ''}${bp.toFixed(1)}`;
}

function fmtProb(p) {
  return typeof p === 'number' && Number.isFinite(p) ? `${(p * 100).toFixed(1)}%` : '?';
}

function direction(p) {
  return p.predictedLogReturn > 0 ? 'up' : p.predictedLogReturn < 0 ? 'down' : '';
}

function keyOf(p) {
  return [p.interval, p.eventTime, p.horizonSteps, p.modelName, p.modelVersion].join('|');
}

function isPrediction(p) {
  return p !== null && typeof p === 'object' && typeof p.symbol === 'string' && typeof p.predictedPrice === 'number';
}

function resetView() {
  state.predictions = [];
  state.keys.clear();
  render();
}

function add(p) {
  if (!isPrediction(p)) return;
  const key = keyOf(p);
  if (state.keys.has(key)) return;
  // Newest event time first; a late or replayed older prediction goes to its place, not the top.
  const t = toDate(p.eventTime)?.getTime() ?? 0;
  let i = 0;
  while (i < state.predictions.length && (toDate(state.predictions[i].eventTime)?.getTime() ?? 0) > t) i++;
  if (i >= MAX_ROWS) return;
  state.keys.add(key);
  state.predictions.splice(i, 0, p);
  while (state.predictions.length > MAX_ROWS) {
    const old = state.predictions.pop();
    state.keys.delete(keyOf(old));
  }
  render();
}

function render() {
  renderLatest();
  renderTable();
  renderSpark();
}

function renderLatest() {
  const p = state.predictions[0];
  $('empty').hidden = Boolean(p);
  $('latest-fields').hidden = !p;
  $('baseline').hidden = !(p && p.isBaseline === true);
  if (!p) return;
  $('f-event').textContent = `${fmtTime(p.eventTime)} UTC`;
  $('f-target').textContent = `${fmtTime(p.targetTime)} UTC (${p.horizonSteps} x ${p.interval})`;
  $('f-price').textContent = fmtPrice(p.predictedPrice);
  const ret = $('f-return');
  ret.textContent = `${fmtBp(p.predictedLogReturn)} bp`;
  ret.className = `big ${direction(p)}`;
  $('f-probup').textContent = fmtProb(p.probUp);
  $('f-model').textContent = `${p.modelName} ${p.modelVersion}`;
  $('f-features').textContent = `feature set ${p.featureSetVersion}`;
  const ingested = toDate(p.candleIngestedAt);
  const predicted = toDate(p.predictedAt);
  $('f-latency').textContent = ingested && predicted ? `${predicted.getTime() - ingested.getTime()} ms` : '?';
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function renderTable() {
  const rows = state.predictions.map((p) => {
    const tr = document.createElement('tr');
    const model = cell(`${p.modelName} ${p.modelVersion}`);
    if (p.isBaseline === true) {
      const b = document.createElement('span');
      b.className = 'badge small';
      b.textContent = 'BASELINE';
      model.append(b);
    }
    tr.append(
      cell(fmtTime(p.eventTime)),
      cell(fmtTime(p.targetTime)),
      cell(String(p.interval)),
      cell(fmtPrice(p.predictedPrice), 'num'),
      cell(fmtBp(p.predictedLogReturn), `num ${direction(p)}`),
      cell(fmtProb(p.probUp), 'num'),
      model,
    );
    return tr;
  });
  $('rows').replaceChildren(...rows);
}

// One coherent series: the predictions of the latest prediction's model, oldest first.
function renderSpark() {
  const latest = state.predictions[0];
  const series = latest ? state.predictions.filter((p) => p.modelName === latest.modelName && Number.isFinite(p.predictedPrice)).reverse() : [];
  const line = $('spark-line');
  if (series.length < 2) {
    line.setAttribute('points', '');
    $('spark-caption').textContent = series.length === 1 ? 'Sparkline appears after the second prediction.' : '';
    return;
  }
  const prices = series.map((p) => p.predictedPrice);
  const min = Math.min(...prices);
  const max = Math.max(...prices);
  const span = max - min || 1;
  const stepX = 600 / (series.length - 1);
  const points = prices.map((v, i) => `${(i * stepX).toFixed(1)},${(76 - ((v - min) / span) * 72).toFixed(1)}`);
  line.setAttribute('points', points.join(' '));
  $('spark-caption').textContent = `${latest.modelName}: ${series.length} predictions, ${fmtPrice(min)} to ${fmtPrice(max)}`;
}

function onMessage(ev) {
  let msg;
  try {
    msg = JSON.parse(ev.data);
  } catch {
    return;
  }
  switch (msg.type) {
    case 'hello':
      // A complete handshake resets the backoff; subscribing here also resubscribes after a reconnect.
      state.attempt = 0;
      setConn('live', 'open');
      // Same gateway process as before the disconnect: ask for what was missed instead of a snapshot.
      if (state.epoch === msg.epoch && state.lastSeq !== null && state.lastChannel === channelOf(state.symbol)) {
        send({ op: 'subscribe', channel: channelOf(state.symbol), resume: { epoch: msg.epoch, seq: state.lastSeq } });
      } else {
        send({ op: 'subscribe', channel: channelOf(state.symbol) });
      }
      state.epoch = msg.epoch;
      break;
    case 'subscribed':
      if (msg.channel !== channelOf(state.symbol)) {
        send({ op: 'unsubscribe', channel: msg.channel });
        break;
      }
      state.subscribed = msg.channel;
      state.lastChannel = msg.channel;
      state.lastSeq = msg.seq;
      if (msg.resumed) {
        notice(msg.replayed > 0 ? `reconnected: ${msg.replayed} missed prediction(s) replayed` : '');
        break;
      }
      notice(msg.snapshotError ? 'snapshot unavailable; showing live predictions only' : '');
      for (const p of msg.snapshot ?? []) add(p);
      break;
    case 'gap':
      notice(
        msg.reason === 'evicted'
          ? `reconnected after a long gap: predictions ${msg.from} to ${msg.to} are not replayed (latest shown)`
          : 'reconnected to another gateway: showing the latest prediction',
      );
      break;
    case 'unsubscribed':
      if (state.subscribed === msg.channel) state.subscribed = null;
      break;
    case 'prediction':
      if (msg.channel === channelOf(state.symbol)) {
        state.lastSeq = msg.seq;
        add(msg.data);
      }
      break;
    case 'error':
      notice(`server: ${msg.message}`);
      break;
    default:
      break;
  }
}

function apiKey() {
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('bitpredict.key', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('bitpredict.key');
}

function connect() {
  clearTimeout(state.reconnectTimer);
  state.reconnectTimer = null;
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  setConn(state.attempt === 0 ? 'connecting' : `reconnecting (attempt ${state.attempt})`, 'connecting');
  // A key (gateway not in open mode) comes from the page's #key=... fragment, which the browser
  // never sends to a server, and rides on the upgrade request as api_key.
  const key = apiKey();
  const ws = new WebSocket(`${proto}//${location.host}/ws${key ? `?api_key=${encodeURIComponent(key)}` : ''}`);
  state.ws = ws;
  ws.addEventListener('message', onMessage);
  ws.addEventListener('close', (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    state.subscribed = null;
    scheduleReconnect(ev.code);
  });
}

// Exponential backoff with full jitter, so many dashboards do not reconnect in lockstep after a
// gateway restart.
function scheduleReconnect(code) {
  state.attempt += 1;
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(state.attempt, 16));
  const delay = Math.round(BACKOFF_MIN_MS / 2 + Math.random() * ceiling);
  const why =
    {
      4008: 'too slow',
      1001: 'server restarting',
      4001: 'API key revoked',
      4000: 'idle',
      4029: 'rate limited',
      1006: 'refused or lost; an API key may be needed (#key=...)',
    }[code] ?? `code ${code}`;
  setConn(`disconnected (${why}), retry in ${Math.ceil(delay / 1000)} s`, 'closed');
  state.reconnectTimer = setTimeout(connect, delay);
}

$('symbol').value = state.symbol;
$('symbol-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const s = $('symbol').value.trim().toUpperCase();
  if (!SYMBOL_RE.test(s)) {
    notice('symbol must be 2 to 20 letters or digits');
    return;
  }
  notice('');
  if (s === state.symbol) return;
  if (state.subscribed) send({ op: 'unsubscribe', channel: state.subscribed });
  state.symbol = s;
  const url = new URL(location.href);
  url.searchParams.set('symbol', s);
  history.replaceState(null, '', url);
  resetView();
  send({ op: 'subscribe', channel: channelOf(s) });
});

render();
connect();
