export { INTERVAL_MS, intervalMs, isKnownInterval } from '../../domain/intervals.js';
export {
  REPLAY_FORMATS,
  MAX_LINE_LENGTH,
  KNOWN_PARTIAL_LAST_ROW,
  KNOWN_PARTIAL_REASON,
  COLUMN_FIELDS,
  COLUMN_NAMES,
  BINANCE_KLINE_HEADER,
  acceptedLayoutsHelp,
  detectFormat,
  detectLayout,
  parseColumnsOption,
  type CandleLayout,
  type ColumnMap,
  parseCsvRow,
  parseJsonEntry,
  type CandleRow,
  type ReplayFormat,
  type RowResult,
} from './formats.js';
export { toCandle, validateCandle, type CandleMeta, type Invalid } from '../../domain/candle.js';
export { createRowSequencer, type RejectedRow, type RowSequencer, type SequencerOutput, type SequencerStats } from './sequencer.js';
export { MIN_TIMESTAMP_MS, formatUtcDateTime, parseFlexibleTime } from './timestamps.js';
