/**
 * The codes of the errors `@dogpile/core` throws or reports. Stable across releases: match on them.
 * Backend packages add their own (`ERR_REDIS_*`, `ERR_SQLITE_*`, ...), each a union in its own
 * `errors.ts`.
 */
export type DogpileErrorCode =
  | 'ERR_REGION_ALREADY_CONFIGURED'
  | 'ERR_REGION_NOT_CONFIGURED'
  | 'ERR_REGION_CLOSED'
  | 'ERR_VALIDATION'
  | 'ERR_PLUGIN_NOT_FOUND'
  | 'ERR_CANT_DESERIALIZE'
  | 'ERR_LOCK_TIMEOUT'
  | 'ERR_SERIALIZATION'
  | 'ERR_LOCK_LOST'
  | 'ERR_LOCK_STATE'
  | 'ERR_BACKEND_CLOSED'
  | 'ERR_INVALIDATION_NOT_ATTACHED'
  | 'ERR_NEED_REGENERATION'
  | 'ERR_CREATOR_TIMEOUT'
  | 'ERR_CREATOR_ERROR_CACHED'
  | 'ERR_CREATION_ABANDONED';

/**
 * Every error this project throws on purpose is a {@link DogpileError}. Match on `code`, which is
 * stable across releases, rather than on the class or the message.
 *
 * @example
 * try { await region.get(key) } catch (e) {
 *   if (e instanceof DogpileError && e.code === 'ERR_REGION_CLOSED') ...
 * }
 */
export class DogpileError<Code extends string = DogpileErrorCode | (string & {})> extends Error {
  /** A stable, machine-readable identifier such as `'ERR_REGION_NOT_CONFIGURED'`. */
  readonly code: Code;

  constructor(code: Code, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** `configure()` was called on a region that already has a backend. */
export class RegionAlreadyConfiguredError extends DogpileError<'ERR_REGION_ALREADY_CONFIGURED'> {
  constructor(regionName: string) {
    super(
      'ERR_REGION_ALREADY_CONFIGURED',
      `Region ${regionName} already has a backend. Pass { replaceExistingBackend: true } to configure() to swap it.`,
    );
  }
}

/** The region was used before `configure()` gave it a backend. */
export class RegionNotConfiguredError extends DogpileError<'ERR_REGION_NOT_CONFIGURED'> {
  constructor(regionName: string) {
    super(
      'ERR_REGION_NOT_CONFIGURED',
      `Region ${regionName} has no backend yet. Call region.configure(backend) before using it.`,
    );
  }
}

/** An option or argument was out of range or of the wrong kind. */
export class ValidationError extends DogpileError<'ERR_VALIDATION'> {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_VALIDATION', message, options);
  }
}

/** A backend name was given that no package registered. */
export class PluginNotFoundError extends DogpileError<'ERR_PLUGIN_NOT_FOUND'> {
  constructor(name: string, known: readonly string[], options?: ErrorOptions) {
    super(
      'ERR_PLUGIN_NOT_FOUND',
      `No backend is registered under "${name}". Known: ${known.length ? known.join(', ') : '(none)'}. ` +
        'Install and import the backend package (for example @dogpile/memory), or call registerBackend().',
      options,
    );
  }
}

/**
 * A serializer could not read stored bytes. The region treats it as a miss and regenerates the
 * value, as dogpile.cache does with `CantDeserializeException`.
 */
export class CantDeserializeError extends DogpileError<'ERR_CANT_DESERIALIZE'> {
  constructor(message = 'The stored bytes could not be deserialized.', options?: ErrorOptions) {
    super('ERR_CANT_DESERIALIZE', message, options);
  }
}

/** A caller waited longer than its lock wait timeout for another caller's creator. */
export class LockTimeoutError extends DogpileError<'ERR_LOCK_TIMEOUT'> {
  constructor(key: string, waitedMs: number) {
    super(
      'ERR_LOCK_TIMEOUT',
      `Gave up waiting for the creation lock on key "${key}" after ${Math.round(waitedMs)} ms. ` +
        'Raise lockWaitTimeout, or set onLockTimeout: "create" to run the creator without the lock.',
    );
  }
}

/** A value could not be serialized for storage. Nothing was written. */
export class SerializationError extends DogpileError<'ERR_SERIALIZATION'> {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_SERIALIZATION', message, options);
  }
}

/**
 * A distributed lock was lost while its holder still ran: its lease expired (or was taken over)
 * before the holder could extend or release it, so another process may have run the creator too.
 * Reported on the `dogpile:error` channel, never thrown to a caller.
 */
export class LockLostError extends DogpileError<'ERR_LOCK_LOST'> {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_LOCK_LOST', message, options);
  }
}

/** A mutex was used in a way its state forbids, such as a blocking acquire of a lock it holds. */
export class LockStateError extends DogpileError<'ERR_LOCK_STATE'> {
  constructor(message: string) {
    super('ERR_LOCK_STATE', message);
  }
}

/** A backend (or its locks) was used, or waited on, after `close()`. */
export class BackendClosedError extends DogpileError<'ERR_BACKEND_CLOSED'> {
  constructor(message: string) {
    super('ERR_BACKEND_CLOSED', message);
  }
}

/** The region was used after `close()`. */
export class RegionClosedError extends DogpileError<'ERR_REGION_CLOSED'> {
  constructor(regionName: string) {
    super(
      'ERR_REGION_CLOSED',
      `Region ${regionName} was closed. Configure it again (with replaceExistingBackend) or make a new region.`,
    );
  }
}

/** A `BackendInvalidationStrategy` was used before a region gave it a backend. */
export class InvalidationNotAttachedError extends DogpileError<'ERR_INVALIDATION_NOT_ATTACHED'> {
  constructor() {
    super(
      'ERR_INVALIDATION_NOT_ATTACHED',
      'This BackendInvalidationStrategy has no backend yet. Pass it to region.configure(backend, { regionInvalidator }) first.',
    );
  }
}

/**
 * Thrown by a value-retrieval function to tell the {@link Lock} there is no value at all, as
 * dogpile's `NeedRegenerationException`. The `Lock` catches it; it never reaches a region's caller.
 */
export class NeedRegenerationError extends DogpileError<'ERR_NEED_REGENERATION'> {
  constructor() {
    super('ERR_NEED_REGENERATION', 'No value is present; it must be created.');
  }
}

/**
 * A creator ran past its `hardTimeout`: its `signal` was aborted with this error, and the callers
 * waiting for it get it (or the stale value, with `staleIfError`). Nothing was stored.
 */
export class CreatorTimeoutError extends DogpileError<'ERR_CREATOR_TIMEOUT'> {
  constructor(key: string, timeoutMs: number) {
    super(
      'ERR_CREATOR_TIMEOUT',
      `The creator for key "${key}" ran longer than its hardTimeout of ${timeoutMs} ms and was aborted. Raise hardTimeout, or make the creator faster (it receives the AbortSignal as context.signal).`,
    );
  }
}

/**
 * With `abortWhenAbandoned`, every caller of this process that was waiting for a creation (the
 * one running it included) aborted its `signal`: the creation's `signal` was aborted with this
 * error, and nothing was stored.
 */
export class CreationAbandonedError extends DogpileError<'ERR_CREATION_ABANDONED'> {
  constructor(key: string) {
    super(
      'ERR_CREATION_ABANDONED',
      `Every caller waiting for the creation of key "${key}" aborted, so it was aborted too (abortWhenAbandoned). Leave abortWhenAbandoned off to let a creation finish and store its value for later callers.`,
    );
  }
}

/**
 * The creator for this key failed within the last `cacheErrorsFor`, so it was not run again: the
 * original error is the `cause`. The key is retried once that time has passed.
 */
export class CachedCreatorError extends DogpileError<'ERR_CREATOR_ERROR_CACHED'> {
  constructor(key: string, untilMs: number, cause: unknown) {
    super(
      'ERR_CREATOR_ERROR_CACHED',
      `The creator for key "${key}" failed recently; its error is cached (cacheErrorsFor) and the creator is not run again for ${Math.max(0, Math.ceil(untilMs))} ms. The original error is the cause.`,
      { cause },
    );
  }
}
