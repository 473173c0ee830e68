import { randomUUID } from 'node:crypto';
import { type CacheBackend, type CacheMutex, ValidationError } from '@dogpile/core';
import type { TestContext } from 'vitest';
import type {
  BackendCapabilities,
  BackendDisposer,
  BackendFactory,
  BackendHints,
  ConformanceOptions,
  CrossProcessOptions,
} from './options.js';

/** The capabilities with every default filled in. */
export interface ResolvedCapabilities {
  stores: boolean;
  serialized: boolean;
  ttl: 'milliseconds' | 'seconds' | false;
  mutex: false | 'local' | 'distributed';
  lockTtlMs: number | undefined;
  lockPollMaxMs: number;
  maxKeyLength: number | undefined;
  maxValueBytes: number | undefined;
}

export interface ResolvedCrossProcess {
  factoryModule: string | undefined;
  registeredBackend:
    | { module: string; name: string; arguments: Record<string, unknown> }
    | undefined;
  processes: number;
  callersPerProcess: number;
  creatorMs: number;
  timeoutMs: number;
}

/** {@link ConformanceOptions} checked, with every default filled in. */
export interface Resolved {
  name: string;
  createBackend: BackendFactory;
  disposeBackend: BackendDisposer;
  caps: ResolvedCapabilities;
  /** The prefix of every key of this run: the user's prefix plus a random run id. */
  keyPrefix: string;
  concurrency: number;
  timeoutMs: number;
  crossProcess: ResolvedCrossProcess | undefined;
}

/** The 1 MiB payload every storing backend must hold, plus room for metadata. */
export const LARGE_PAYLOAD_CHARS = 1024 * 1024;
const MIN_MAX_VALUE_BYTES = LARGE_PAYLOAD_CHARS + 4096;

function positiveInteger(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new ValidationError(`${what} must be a positive integer; got ${String(value)}.`);
  }
  return value;
}

function moduleLocation(value: unknown, what: string): string {
  if (value instanceof URL) return value.href;
  if (typeof value === 'string' && value !== '') return value;
  throw new ValidationError(
    `${what} must be an absolute path or a file: URL; got ${String(value)}.`,
  );
}

function resolveCapabilities(caps: BackendCapabilities = {}): ResolvedCapabilities {
  const stores = caps.stores ?? true;
  const serialized = caps.serialized ?? false;
  const ttl = caps.ttl ?? false;
  const mutex = caps.mutex === undefined ? 'local' : caps.mutex;
  if (typeof stores !== 'boolean')
    throw new ValidationError('capabilities.stores must be a boolean.');
  if (typeof serialized !== 'boolean') {
    throw new ValidationError('capabilities.serialized must be a boolean.');
  }
  if (ttl !== false && ttl !== 'milliseconds' && ttl !== 'seconds') {
    throw new ValidationError(
      `capabilities.ttl must be 'milliseconds', 'seconds' or false; got ${String(ttl)}.`,
    );
  }
  if (mutex !== false && mutex !== 'local' && mutex !== 'distributed') {
    throw new ValidationError(
      `capabilities.mutex must be false, 'local' or 'distributed'; got ${String(mutex)}.`,
    );
  }
  const lockTtlMs =
    caps.lockTtlMs === undefined
      ? undefined
      : positiveInteger(caps.lockTtlMs, 'capabilities.lockTtlMs', 0);
  if (lockTtlMs !== undefined && mutex === false) {
    throw new ValidationError('capabilities.lockTtlMs makes no sense with mutex: false.');
  }
  const maxKeyLength =
    caps.maxKeyLength === undefined
      ? undefined
      : positiveInteger(caps.maxKeyLength, 'capabilities.maxKeyLength', 0);
  const maxValueBytes =
    caps.maxValueBytes === undefined
      ? undefined
      : positiveInteger(caps.maxValueBytes, 'capabilities.maxValueBytes', 0);
  if (maxValueBytes !== undefined && maxValueBytes < MIN_MAX_VALUE_BYTES) {
    throw new ValidationError(
      `capabilities.maxValueBytes is ${maxValueBytes}, but a backend must store a 1 MiB payload (maxValueBytes >= ${MIN_MAX_VALUE_BYTES}). Raise the server's item size limit (memcached -I 2m).`,
    );
  }
  const lockPollMaxMs = positiveInteger(caps.lockPollMaxMs, 'capabilities.lockPollMaxMs', 100);
  return { stores, serialized, ttl, mutex, lockTtlMs, lockPollMaxMs, maxKeyLength, maxValueBytes };
}

function resolveCrossProcess(
  options: CrossProcessOptions | undefined,
): ResolvedCrossProcess | undefined {
  if (options === undefined) return undefined;
  const { factoryModule, registeredBackend } = options;
  if ((factoryModule === undefined) === (registeredBackend === undefined)) {
    throw new ValidationError(
      'crossProcess needs exactly one of factoryModule and registeredBackend.',
    );
  }
  if (
    registeredBackend !== undefined &&
    (typeof registeredBackend.name !== 'string' || !registeredBackend.name)
  ) {
    throw new ValidationError(
      'crossProcess.registeredBackend.name must be the registered backend name.',
    );
  }
  return {
    factoryModule:
      factoryModule === undefined
        ? undefined
        : moduleLocation(factoryModule, 'crossProcess.factoryModule'),
    registeredBackend:
      registeredBackend === undefined
        ? undefined
        : {
            module: moduleLocation(
              registeredBackend.module,
              'crossProcess.registeredBackend.module',
            ),
            name: registeredBackend.name,
            arguments: registeredBackend.arguments ?? {},
          },
    processes: positiveInteger(options.processes, 'crossProcess.processes', 4),
    callersPerProcess: positiveInteger(
      options.callersPerProcess,
      'crossProcess.callersPerProcess',
      50,
    ),
    creatorMs: positiveInteger(options.creatorMs, 'crossProcess.creatorMs', 300),
    timeoutMs: positiveInteger(options.timeoutMs, 'crossProcess.timeoutMs', 60_000),
  };
}

/** Checks the options and fills in defaults; throws {@link ValidationError} for bad input. */
export function resolveOptions(options: ConformanceOptions): Resolved {
  if (options === null || typeof options !== 'object') {
    throw new ValidationError('The conformance kit takes an options object with createBackend.');
  }
  if (typeof options.createBackend !== 'function') {
    throw new ValidationError('createBackend must be a function (hints) => backend.');
  }
  if (options.disposeBackend !== undefined && typeof options.disposeBackend !== 'function') {
    throw new ValidationError('disposeBackend must be a function (backend) => void.');
  }
  if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string') {
    throw new ValidationError('keyPrefix must be a string.');
  }
  const concurrency = positiveInteger(options.concurrency, 'concurrency', 8);
  if (concurrency < 2) {
    throw new ValidationError('concurrency must be at least 2 to test exclusion.');
  }
  const timeoutMs = positiveInteger(options.timeoutMs, 'timeoutMs', 20_000);
  if (timeoutMs < 5000) {
    throw new ValidationError(`timeoutMs must be at least 5000 ms; got ${timeoutMs}.`);
  }
  return {
    name: options.name ?? 'backend',
    createBackend: options.createBackend,
    disposeBackend: options.disposeBackend ?? ((backend) => backend.close()),
    caps: resolveCapabilities(options.capabilities),
    keyPrefix: `${options.keyPrefix ?? 'dogpile-conformance:'}${randomUUID().slice(0, 8)}:`,
    concurrency,
    timeoutMs,
    crossProcess: resolveCrossProcess(options.crossProcess),
  };
}

/** Applies the backend's key mangler, as the region does before a key reaches the backend. */
export function mangle(backend: CacheBackend, key: string): string {
  return backend.keyMangler === undefined ? key : backend.keyMangler(key);
}

let keyCounter = 0;

/**
 * What one test uses: backends built for it (disposed when it finishes, passed or failed) and
 * keys unique to it.
 */
export class TestScope {
  readonly #options: Resolved;
  readonly #backends: CacheBackend[] = [];
  readonly #label: string;

  /** The vitest context of the test, to skip it from inside. */
  readonly ctx: TestContext;

  constructor(options: Resolved, context: TestContext, label: string) {
    this.#options = options;
    this.#label = label;
    this.ctx = context;
    context.onTestFinished(() => this.dispose());
  }

  /** A fresh backend from the user's factory, disposed after the test. */
  async backend(hints: BackendHints = {}): Promise<CacheBackend> {
    const backend = await this.#options.createBackend(hints);
    if (backend === null || typeof backend !== 'object' || typeof backend.get !== 'function') {
      throw new Error(`createBackend returned ${String(backend)}, not a CacheBackend.`);
    }
    this.#backends.push(backend);
    return backend;
  }

  /** Disposes `backend` now (to simulate it going away); it is not disposed again later. */
  async disposeNow(backend: CacheBackend): Promise<void> {
    const index = this.#backends.indexOf(backend);
    if (index >= 0) this.#backends.splice(index, 1);
    await this.#options.disposeBackend(backend);
  }

  /** A key no other test of any run uses. */
  key(name = 'k'): string {
    keyCounter += 1;
    return `${this.#options.keyPrefix}${this.#label}:${name}:${keyCounter}`;
  }

  /** The backend's mutex for `key` (mangled as the region would), or `null`. */
  mutex(backend: CacheBackend, key: string): CacheMutex | null {
    return backend.getMutex(mangle(backend, key));
  }

  async dispose(): Promise<void> {
    const errors: unknown[] = [];
    while (this.#backends.length > 0) {
      const backend = this.#backends.pop()!;
      try {
        await this.#options.disposeBackend(backend);
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'Several backends failed to close.');
  }
}
