import { DogpileError } from '@dogpile/core';

/**
 * The stable codes of {@link MemcachedBackendError}:
 * - `ERR_MEMCACHED_CONNECTION`: a server could not be reached (refused, unknown host, timed out
 *   connecting, connection closed while a command waited).
 * - `ERR_MEMCACHED_AUTH`: the server rejected the SASL credentials, or wants some and got none.
 * - `ERR_MEMCACHED_SERVERS`: the `servers` option is not a list of `host:port` addresses.
 * - `ERR_MEMCACHED_TIMEOUT`: a command got no reply within `commandTimeout`.
 * - `ERR_MEMCACHED_VALUE_TOO_LARGE`: a value is over the server's item size limit (`-I`, 1 MiB by
 *   default); reported (or thrown with `onValueTooLarge: 'throw'`), the value is not stored.
 * - `ERR_MEMCACHED_COMMAND`: the server answered a command with an error status.
 * - `ERR_MEMCACHED_CLOSED`: the backend was used after `close()`.
 * - `ERR_MEMCACHED_LOCK_LOST`: a held lock expired or was taken over while its creator still ran
 *   (reported through `reportError`, never thrown to a caller).
 */
export type MemcachedErrorCode =
  | 'ERR_MEMCACHED_CONNECTION'
  | 'ERR_MEMCACHED_AUTH'
  | 'ERR_MEMCACHED_SERVERS'
  | 'ERR_MEMCACHED_TIMEOUT'
  | 'ERR_MEMCACHED_VALUE_TOO_LARGE'
  | 'ERR_MEMCACHED_COMMAND'
  | 'ERR_MEMCACHED_CLOSED'
  | 'ERR_MEMCACHED_LOCK_LOST';

/** Every error `@dogpile/memcached` throws or reports. Match on `code`; the cause is memjs's error. */
export class MemcachedBackendError extends DogpileError {
  declare readonly code: MemcachedErrorCode;

  constructor(code: MemcachedErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** The error of any use of a closed backend. */
export function closedError(): MemcachedBackendError {
  return new MemcachedBackendError(
    'ERR_MEMCACHED_CLOSED',
    'This MemcachedBackend was closed. Configure the region with a new backend to use Memcached again.',
  );
}

/** Binary protocol status codes and what they mean. */
export const STATUS_TEXT: Readonly<Record<number, string>> = Object.freeze({
  1: 'key not found',
  2: 'key exists',
  3: 'value too large',
  4: 'invalid arguments',
  5: 'item not stored',
  6: 'incr/decr on a non-numeric value',
  8: 'authentication error',
  32: 'authentication required',
  129: 'unknown command',
  130: 'out of memory',
  131: 'not supported',
  132: 'internal error',
  133: 'busy',
  134: 'temporary failure',
});

function describeCause(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\.+$/, '');
}

/**
 * Wraps a memjs or socket failure in a {@link MemcachedBackendError} with a code and a message
 * that says what to do. `where` names the server. Already-wrapped errors pass through.
 */
export function toMemcachedError(
  error: unknown,
  where: string,
  operation: string,
): MemcachedBackendError {
  if (error instanceof MemcachedBackendError) return error;
  const text = describeCause(error);
  const lower = text.toLowerCase();
  if (lower.includes('authentication')) {
    return new MemcachedBackendError(
      'ERR_MEMCACHED_AUTH',
      `Memcached at ${where} rejected the credentials during ${operation}: ${text}. ` +
        'Check username and password (or the user:password@ part of servers); a server started with -S wants SASL credentials.',
      { cause: error },
    );
  }
  if (lower.includes('timed out waiting on response')) {
    return new MemcachedBackendError(
      'ERR_MEMCACHED_TIMEOUT',
      `Memcached at ${where} did not answer ${operation} within commandTimeout. ` +
        'The server may be overloaded, stopped or unreachable; raise commandTimeout if the command is legitimately slow.',
      { cause: error },
    );
  }
  return new MemcachedBackendError(
    'ERR_MEMCACHED_CONNECTION',
    `Cannot reach Memcached at ${where} for ${operation}: ${text}. ` +
      'Check that the server is running and that servers (host:port) is right.',
    { cause: error },
  );
}
