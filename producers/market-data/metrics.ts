// The metrics of live market data, registered once and shared by the parts of the service.
import { counter, gauge, type Registry } from '../../core/metrics.js';

export function marketDataMetrics(registry: Registry) {
  return {
    candles: counter(registry, 'bitpredict_marketdata_candles_total', 'Candles published by live market data, by exchange and path (ws, rest)', [
      'exchange',
      'path',
    ]),
    trades: counter(
      registry,
      'bitpredict_marketdata_trades_total',
      'Trades received, by exchange and outcome (accepted, duplicate, late, before-start, seen)',
      ['exchange', 'outcome'],
    ),
    late: counter(
      registry,
      'bitpredict_marketdata_late_trades_total',
      'Trades for a candle already closed by the watermark (dropped; REST is the source of truth)',
      ['exchange'],
    ),
    invalid: counter(registry, 'bitpredict_marketdata_invalid_frames_total', 'Frames or REST bodies that failed parsing or validation (sent to the DLQ)', [
      'exchange',
      'reason',
    ]),
    restErrors: counter(registry, 'bitpredict_marketdata_rest_errors_total', 'REST gap-fill answers that were errors (429, 5xx, 4xx, network)', [
      'exchange',
      'status',
    ]),
    reconnects: counter(registry, 'bitpredict_marketdata_disconnects_total', 'Exchange sockets lost (any reason, including heartbeat timeouts)', ['exchange']),
    gapCandles: counter(registry, 'bitpredict_marketdata_gap_candles_total', 'Candles published by REST gap fill', ['exchange']),
    skipped: counter(registry, 'bitpredict_marketdata_duplicates_skipped_total', 'Candles not published because their open time was already published', [
      'exchange',
    ]),
    connected: gauge(registry, 'bitpredict_marketdata_connected', '1 while the exchange socket is open', ['exchange']),
    dlq: counter(registry, 'bitpredict_dlq_records_total', 'Records sent to the DLQ, by reason code', ['group', 'reason']),
  };
}

export type MarketDataMetrics = ReturnType<typeof marketDataMetrics>;
