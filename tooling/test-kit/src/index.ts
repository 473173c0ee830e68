export { type Deferred, deferred, gatedCreator } from './deferred.js';
export { ManualClock } from './manual-clock.js';
export { MapLeaseStore, type MapLeaseStoreOptions } from './map-lease-store.js';
export { OverlapCounter } from './overlap-counter.js';
export { settle, sleep } from './timing.js';
