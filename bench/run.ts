// `npm run bench -- <name>`: runs one benchmark. Each prints progress to stderr and, as its LAST
// stdout line, one JSON object with the bench name, its figures, and `ratio` against a baseline
// measured in the same run on the same machine.
const benches: Record<string, () => Promise<Record<string, unknown>>> = {
  'replay-throughput': async () => (await import('./replay-throughput.js')).run(),
  'e2e-latency': async () => (await import('./e2e-latency.js')).run(),
  'candle-build': async () => (await import('./candle-build.js')).run(),
  'exchange-latency': async () => (await import('./exchange-latency.js')).run(),
  'processor-throughput': async () => (await import('./processor-throughput.js')).run(),
  sentiment: async () => (await import('./sentiment.js')).run(),
  training: async () => (await import('./training.js')).run(),
  inference: async () => (await import('./inference.js')).run(),
  'ws-fanout': async () => (await import('./ws-fanout.js')).run(),
  backtest: async () => (await import('./backtest.js')).run(),
  forecast: async () => (await import('./forecast.js')).run(),
  dashboard: async () => (await import('./dashboard.js')).run(),
  tracing: async () => (await import('./tracing.js')).run(),
  capacity: async () => (await import('./capacity.js')).run(),
};

const name = process.argv[2];
if (!name || !benches[name]) {
  console.error(`usage: npm run bench -- <name>\nbenchmarks: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
try {
  const result = await benches[name]();
  console.log(JSON.stringify({ bench: name, ...result }));
  process.exit(0);
} catch (err) {
  console.error(`bench ${name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
}
