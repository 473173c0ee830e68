export { durationBucketsMs } from './dogpile-metrics.js';
export { type DogpileInstrumentation, instrumentDogpile } from './instrument-dogpile.js';
export {
  attributeNames,
  circuitChannelName,
  instrumentationScope,
  metricNames,
  regenerationSpanName,
} from './names.js';
export type { InstrumentDogpileOptions } from './options.js';
