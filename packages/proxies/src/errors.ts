import { DogpileError } from '@dogpile/core';

/**
 * The stable codes of {@link ProxyError}:
 * - `ERR_BACKEND_TIMEOUT`: a backend call did not settle within `TimeoutProxy`'s deadline.
 * - `ERR_CIRCUIT_OPEN`: `CircuitBreakerProxy` is open, so the call was refused without reaching
 *   the backend.
 * - `ERR_PROXY_UNREADABLE`: a compressed or encrypted value could not be read (reported through
 *   `reportError`; the read is a miss, never thrown to a caller).
 */
export type ProxyErrorCode = 'ERR_BACKEND_TIMEOUT' | 'ERR_CIRCUIT_OPEN' | 'ERR_PROXY_UNREADABLE';

/** Every error `@dogpile/proxies` throws or reports. Match on `code`. */
export class ProxyError extends DogpileError {
  declare readonly code: ProxyErrorCode;

  constructor(code: ProxyErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** A backend call passed `TimeoutProxy`'s deadline. Its late result is discarded. */
export class BackendTimeoutError extends ProxyError {
  /** The call that timed out: `'get'`, `'setMulti'`, `'acquire'`, ... */
  readonly operation: string;
  /** The deadline it missed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(operation: string, timeoutMs: number) {
    super(
      'ERR_BACKEND_TIMEOUT',
      `The backend's ${operation} did not answer within ${timeoutMs} ms. Check the backend, raise TimeoutProxy's timeout, or set failSafe on the region to serve from the creator meanwhile.`,
    );
    this.operation = operation;
    this.timeoutMs = timeoutMs;
  }
}

/** `CircuitBreakerProxy` is open: the call failed at once without reaching the backend. */
export class CircuitOpenError extends ProxyError {
  /** Milliseconds until the breaker lets a probe call through. */
  readonly retryInMs: number;

  constructor(operation: string, retryInMs: number, options?: ErrorOptions) {
    super(
      'ERR_CIRCUIT_OPEN',
      `The circuit breaker is open after repeated backend failures, so ${operation} was not sent; a probe is let through in ${Math.max(0, Math.ceil(retryInMs))} ms. Set failSafe on the region to serve from the creator meanwhile.`,
      options,
    );
    this.retryInMs = retryInMs;
  }
}

/** A stored value a compression or encryption proxy could not read: a miss, reported. */
export class UnreadableValueError extends ProxyError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_PROXY_UNREADABLE', message, options);
  }
}
