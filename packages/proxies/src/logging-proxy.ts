import {
  type AcquireOptions,
  CachedValue,
  type CacheMutex,
  NO_VALUE,
  type NoValue,
  NullMutex,
  ValidationError,
  type WaitForReleaseOptions,
} from '@dogpile/core';
import { booleanOption, checkOptions } from './options.js';
import { PassThroughProxy } from './pass-through-proxy.js';

/** A log level {@link LoggingProxy} writes at. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

/** A `console`-shaped or pino-shaped logger: one method per level it is given. */
export type Logger = Partial<Record<LogLevel, (...args: unknown[]) => void>>;

/** What {@link LoggingProxy} logs about one call. */
export interface CallRecord {
  /** `'get'`, `'setSerializedMulti'`, `'acquire'`, ... */
  operation: string;
  /** The key, or the keys of a multi call. */
  key: string | string[];
  /** Milliseconds the call took. */
  durationMs: number;
  /** `'hit'`/`'miss'` for a single read, `'ok'` otherwise, `'error'` when it threw. */
  outcome: 'hit' | 'miss' | 'ok' | 'error';
  /** For a multi read: how many keys were found. */
  hits?: number;
  /** For an acquire: whether the lock was taken. */
  acquired?: boolean;
  /** The error's code (or name) and message, when it threw. */
  error?: string;
  /** The value read or written, only with `logPayloads: true`. */
  value?: unknown;
}

/**
 * Options of {@link LoggingProxy}.
 *
 * @example
 * new LoggingProxy({ logger: pino(), level: 'debug', errorLevel: 'warn' })
 */
export interface LoggingProxyOptions {
  /** Where lines go: `console`, a pino logger, or anything with the level methods. Required. */
  logger: Logger;
  /** The level of calls that succeed. Default: `'debug'`. */
  level?: LogLevel;
  /** The level of calls that throw. Default: `'warn'`. */
  errorLevel?: LogLevel;
  /**
   * Include the value read or written (the payload, or a stored value's bytes as text, cut at
   * 200 characters). Values may hold personal data or secrets, so: Default: `false`.
   */
  logPayloads?: boolean;
  /**
   * How to call the logger: `'pino'` (`logger.info(record, message)`) or `'console'`
   * (`logger.info(message, record)`). Default: `'pino'` when the logger has pino's `child` and
   * `levels`, else `'console'`.
   */
  style?: 'pino' | 'console';
}

const KNOWN = ['logger', 'level', 'errorLevel', 'logPayloads', 'style'] as const;
const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];
const decoder = new TextDecoder();

function level(name: string, value: unknown, fallback: LogLevel): LogLevel {
  if (value === undefined) return fallback;
  if (!LEVELS.includes(value as LogLevel)) {
    throw new ValidationError(
      `LoggingProxy ${name} must be one of ${LEVELS.join(', ')}; got ${String(value)}.`,
    );
  }
  return value as LogLevel;
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return `${typeof code === 'string' ? code : error.name}: ${error.message}`;
  }
  return String(error);
}

function preview(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    const text = decoder.decode(value.subarray(0, 200));
    return value.length > 200 ? `${text}…` : text;
  }
  if (value instanceof CachedValue) return value.payload;
  return value;
}

/**
 * Logs every backend call (and lock call) with its key, duration and outcome. It never logs
 * values unless `logPayloads` is on, and never logs a proxy's keys or secrets: it sees only what
 * passes through it, so put it outside an `EncryptionProxy` to log plaintext sizes, inside to log
 * ciphertext sizes.
 *
 * @example
 * region.configure(backend, { wrap: [new LoggingProxy({ logger: console, level: 'info' })] });
 */
export class LoggingProxy extends PassThroughProxy {
  readonly #write: (lvl: LogLevel, record: CallRecord) => void;
  readonly #level: LogLevel;
  readonly #errorLevel: LogLevel;
  readonly #payloads: boolean;

  constructor(options: LoggingProxyOptions) {
    super();
    const o = checkOptions('LoggingProxy', options, KNOWN);
    const logger = o.logger as Logger;
    if (logger === null || typeof logger !== 'object') {
      throw new ValidationError(
        'LoggingProxy needs a logger: console, a pino logger, or an object with debug/info/warn/error methods.',
      );
    }
    this.#level = level('level', o.level, 'debug');
    this.#errorLevel = level('errorLevel', o.errorLevel, 'warn');
    for (const lvl of [this.#level, this.#errorLevel]) {
      if (typeof logger[lvl] !== 'function') {
        throw new ValidationError(`LoggingProxy logger has no ${lvl}() method.`);
      }
    }
    this.#payloads = booleanOption('LoggingProxy', 'logPayloads', o.logPayloads, false);
    const style =
      o.style ??
      (typeof (logger as { child?: unknown }).child === 'function' &&
      typeof (logger as { levels?: unknown }).levels === 'object'
        ? 'pino'
        : 'console');
    if (style !== 'pino' && style !== 'console') {
      throw new ValidationError(
        `LoggingProxy style must be 'pino' or 'console'; got ${String(style)}.`,
      );
    }
    this.#write =
      style === 'pino'
        ? (lvl, record) => logger[lvl]!(record, `dogpile ${record.operation} ${record.outcome}`)
        : (lvl, record) => logger[lvl]!(`dogpile ${record.operation} ${record.outcome}`, record);
  }

  /** Runs `call` and logs it. */
  #logged<T>(
    operation: string,
    key: string | readonly string[],
    call: () => Promise<T>,
    describe: (value: T, record: CallRecord) => void,
    written?: unknown,
  ): Promise<T> {
    const start = performance.now();
    const keyField = typeof key === 'string' ? key : [...key];
    const done = (record: CallRecord, lvl: LogLevel) => {
      try {
        this.#write(lvl, record);
      } catch {
        // A logger that throws must not break the cache.
      }
    };
    let promise: Promise<T>;
    try {
      promise = call();
    } catch (error) {
      promise = Promise.reject(error);
    }
    return promise.then(
      (value) => {
        const record: CallRecord = {
          operation,
          key: keyField,
          durationMs: performance.now() - start,
          outcome: 'ok',
        };
        describe(value, record);
        if (this.#payloads && written !== undefined) record.value = written;
        done(record, this.#level);
        return value;
      },
      (error: unknown) => {
        done(
          {
            operation,
            key: keyField,
            durationMs: performance.now() - start,
            outcome: 'error',
            error: describeError(error),
          },
          this.#errorLevel,
        );
        throw error;
      },
    );
  }

  #read = (value: unknown, record: CallRecord): void => {
    record.outcome = value === NO_VALUE ? 'miss' : 'hit';
    if (this.#payloads && value !== NO_VALUE) record.value = preview(value);
  };

  #readMany = (values: unknown[], record: CallRecord): void => {
    record.hits = values.filter((value) => value !== NO_VALUE).length;
    if (this.#payloads) record.value = values.map((v) => (v === NO_VALUE ? null : preview(v)));
  };

  #none = (): void => {};

  #mappingValue(mapping: ReadonlyMap<string, unknown>): unknown {
    return this.#payloads ? Array.from(mapping.values(), preview) : undefined;
  }

  override get(key: string): Promise<CachedValue | NoValue> {
    return this.#logged('get', key, () => this.proxied.get(key), this.#read);
  }
  override set(key: string, value: CachedValue): Promise<void> {
    return this.#logged('set', key, () => this.proxied.set(key, value), this.#none, preview(value));
  }
  override delete(key: string): Promise<void> {
    return this.#logged('delete', key, () => this.proxied.delete(key), this.#none);
  }
  override getMulti(keys: readonly string[]): Promise<Array<CachedValue | NoValue>> {
    return this.#logged('getMulti', keys, () => this.proxied.getMulti(keys), this.#readMany);
  }
  override setMulti(mapping: ReadonlyMap<string, CachedValue>): Promise<void> {
    return this.#logged(
      'setMulti',
      [...mapping.keys()],
      () => this.proxied.setMulti(mapping),
      this.#none,
      this.#mappingValue(mapping),
    );
  }
  override deleteMulti(keys: readonly string[]): Promise<void> {
    return this.#logged('deleteMulti', keys, () => this.proxied.deleteMulti(keys), this.#none);
  }
  override getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.#logged('getSerialized', key, () => this.proxied.getSerialized(key), this.#read);
  }
  override getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return this.#logged(
      'getSerializedMulti',
      keys,
      () => this.proxied.getSerializedMulti(keys),
      this.#readMany,
    );
  }
  override setSerialized(key: string, value: Uint8Array): Promise<void> {
    return this.#logged(
      'setSerialized',
      key,
      () => this.proxied.setSerialized(key, value),
      this.#none,
      preview(value),
    );
  }
  override setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    return this.#logged(
      'setSerializedMulti',
      [...mapping.keys()],
      () => this.proxied.setSerializedMulti(mapping),
      this.#none,
      this.#mappingValue(mapping),
    );
  }
  override getMutex(key: string): CacheMutex | null {
    const inner = this.proxied.getMutex(key);
    if (inner === null || inner instanceof NullMutex) return inner;
    const mutex: CacheMutex = {
      acquire: (wait = true, options?: AcquireOptions) =>
        this.#logged(
          'acquire',
          key,
          () => inner.acquire(wait, options),
          (acquired, record) => {
            record.acquired = acquired;
          },
        ),
      release: () => this.#logged('release', key, () => inner.release(), this.#none),
      locked: () => this.#logged('locked', key, () => inner.locked(), this.#none),
    };
    if (typeof inner.waitForRelease === 'function') {
      mutex.waitForRelease = (options?: WaitForReleaseOptions) =>
        this.#logged('waitForRelease', key, () => inner.waitForRelease!(options), this.#none);
    }
    return mutex;
  }
}
