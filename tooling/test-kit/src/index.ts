export { MapLeaseStore, type MapLeaseStoreOptions } from './map-lease-store.js';
