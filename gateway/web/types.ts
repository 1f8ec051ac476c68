// What the page reads from the gateway: the fields of schemas/types.ts it uses, as checked by
// parse.ts. The page cannot import schemas/types.ts itself: that file also describes Node-only
// records (Buffer), and the page is compiled for the browser alone (tsconfig.json here).

/** A closed candle (schemas Candle). Times are epoch ms; openTime places it on the chart. */
export interface Candle {
  symbol: string;
  interval: string;
  openTime: number;
  closeTime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** The indicator and sentiment fields of a feature vector (schemas FeatureVector). Null: warming up or missing. */
export interface Feature {
  symbol: string;
  interval: string;
  /** The close time of the candle the vector belongs to. */
  eventTime: number;
  openTime: number;
  close: number;
  sma10: number | null;
  sma20: number | null;
  sma50: number | null;
  ema12: number | null;
  ema26: number | null;
  ema50: number | null;
  rsi14: number | null;
  macd: number | null;
  macdSignal: number | null;
  macdHist: number | null;
  bbWidth: number | null;
  sentimentWindowMs: number | null;
  textCount: number | null;
  vaderMean: number | null;
}

/** The forecast distribution of ln(close(targetTime) / close(eventTime)) at one horizon. */
export interface HorizonForecast {
  horizonSteps: number;
  targetTime: number;
  mean: number;
  scale: number;
  /** Log-return quantiles at the prediction's quantileLevels, non-decreasing. */
  quantiles: number[];
  probUp: number;
  predictedPrice: number;
}

/** One forecaster's forecast made at eventTime (schemas Prediction, schema version 2). */
export interface Prediction {
  symbol: string;
  interval: string;
  eventTime: number;
  targetTime: number;
  horizonSteps: number;
  predictedLogReturn: number;
  predictedPrice: number;
  probUp: number;
  modelName: string;
  modelVersion: string;
  isBaseline: boolean;
  quantileLevels: number[];
  /** Only the horizons whose numbers passed the checks; shortest first. */
  horizons: HorizonForecast[];
}

export interface IntervalCoverage {
  level: number;
  coverage: number;
  meanWidth: number;
}

/** One forecaster's live skill at one horizon over one rolling window (schemas Score). */
export interface Score {
  symbol: string;
  interval: string;
  modelName: string;
  modelVersion: string;
  isBaseline: boolean;
  horizonSteps: number;
  windowMs: number;
  eventTime: number;
  samples: number;
  missing: number;
  pinballLoss: number | null;
  coverage: IntervalCoverage[];
  skillVsPersistence: number | null;
  skillVsBestBaseline: number | null;
  bestBaseline: string | null;
  computedAt: number;
}

/** The champion of GET /v1/models. */
export interface Champion {
  version: string;
  trainedFrom: number;
  trainedTo: number;
  backend: string;
  createdAt: number;
  expiresAt: number | null;
}

export interface ModelsInfo {
  name: string;
  champion: Champion | null;
  versionCount: number;
}
