// The candle shape and rules live in core/domain/candle.ts, shared by every producer.
export { toCandle, validateCandle, type CandleMeta, type CandleRow, type Invalid } from '../../../core/domain/candle.js';
