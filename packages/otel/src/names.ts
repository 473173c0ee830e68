/**
 * The names of the metrics {@link instrumentDogpile} records, so dashboards and tests can refer
 * to them without retyping strings.
 */
export const metricNames = {
  hits: 'dogpile.hits',
  misses: 'dogpile.misses',
  coalesced: 'dogpile.coalesced',
  staleServed: 'dogpile.stale_served',
  errors: 'dogpile.errors',
  regenerationDuration: 'dogpile.regeneration.duration',
  lockWaitDuration: 'dogpile.lock_wait.duration',
  circuitTransitions: 'dogpile.circuit.transitions',
} as const;

/** The attribute names on those metrics and on the regeneration span. */
export const attributeNames = {
  /** The region's `name`; on every metric but `dogpile.circuit.transitions`. */
  region: 'dogpile.region',
  /** The cache key as the caller gave it: on the span only, never on a metric. */
  key: 'dogpile.key',
  /** On `dogpile.misses`: a stale value was there (`true`) or nothing usable (`false`). */
  stale: 'dogpile.stale',
  /** On `dogpile.stale_served`: this caller handed the regeneration to the background. */
  handedOver: 'dogpile.handed_over',
  /** On `dogpile.errors`: what was being done (`creator`, `deserialize`, `lockRelease`, ...). */
  operation: 'dogpile.operation',
  /** On `dogpile.errors` and a failed span: the error's stable `code`, when it has one. */
  errorCode: 'dogpile.error.code',
  /** On regenerations: `miss`, `stale` or `early`. */
  reason: 'dogpile.reason',
  /** On regenerations: it ran in the background while callers were served the current value. */
  background: 'dogpile.background',
  /** On `dogpile.regeneration.duration`: the creator returned (`true`) or threw (`false`). */
  ok: 'dogpile.ok',
  /**
   * On `dogpile.lock_wait.duration`: a wait on the backend's distributed mutex (`true`: another
   * process, or a blocking acquire) or for another caller of this process (`false`).
   */
  remote: 'dogpile.lock.remote',
  /** On `dogpile.circuit.transitions`: the breaker's name and the states it went between. */
  circuitName: 'dogpile.circuit.name',
  circuitFrom: 'dogpile.circuit.from',
  circuitTo: 'dogpile.circuit.to',
} as const;

/** The name of the span around one regeneration (one creator run for one key). */
export const regenerationSpanName = 'dogpile.regenerate';

/**
 * The channel `@dogpile/proxies`' `CircuitBreakerProxy` publishes its state changes on.
 * Subscribed to by name so this package does not depend on the proxies.
 */
export const circuitChannelName = 'dogpile:circuit';

/** The instrumentation scope name of the meter and tracer. */
export const instrumentationScope = '@dogpile/otel';
