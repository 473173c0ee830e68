import { DogpileError } from '@dogpile/core';

/**
 * The stable codes of {@link RedisBackendError}:
 * - `ERR_REDIS_CONNECTION`: the server could not be reached (refused, unknown host, timed out
 *   connecting, connection lost, no Cluster node available).
 * - `ERR_REDIS_AUTH`: the server rejected the credentials, or wants some and got none.
 * - `ERR_REDIS_URL`: the `url` option is not a Redis URL.
 * - `ERR_REDIS_TIMEOUT`: a command got no reply within `commandTimeout`.
 * - `ERR_REDIS_COMMAND`: the server answered a command with an error.
 * - `ERR_REDIS_CLOSED`: the backend was used after `close()`.
 * - `ERR_REDIS_LOCK_LOST`: a held lock expired or was taken over while its creator still ran
 *   (reported through `reportError`, never thrown to a caller).
 */
export type RedisErrorCode =
  | 'ERR_REDIS_CONNECTION'
  | 'ERR_REDIS_AUTH'
  | 'ERR_REDIS_URL'
  | 'ERR_REDIS_TIMEOUT'
  | 'ERR_REDIS_COMMAND'
  | 'ERR_REDIS_CLOSED'
  | 'ERR_REDIS_LOCK_LOST';

/** Every error `@dogpile/redis` throws or reports. Match on `code`; the cause is the ioredis error. */
export class RedisBackendError extends DogpileError<RedisErrorCode> {
  constructor(code: RedisErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

/** What any call on a closed backend gets. */
export function closedError(): RedisBackendError {
  return new RedisBackendError(
    'ERR_REDIS_CLOSED',
    'This RedisBackend was closed. Configure the region with a new backend to use Redis again.',
  );
}

const CONNECTION_PATTERNS = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
  'Connection is closed',
  'max retries per request',
  "Stream isn't writeable",
  "Cluster isn't ready",
  'None of startup nodes is available',
  'Failed to refresh slots cache',
  'All sentinels are unreachable',
  'CLUSTERDOWN',
];

function describeCause(error: unknown): string {
  let text: string;
  if (error instanceof Error) {
    // ioredis's ClusterAllFailedError keeps the node error that explains it.
    const last = (error as { lastNodeError?: unknown }).lastNodeError;
    text = last instanceof Error ? `${error.message} (${last.message})` : error.message;
  } else {
    text = String(error);
  }
  return text.replace(/\.+$/, '');
}

/**
 * Wraps an ioredis error in a {@link RedisBackendError} with a code and a message that says what
 * to do. `where` names the server(s) for the message. Already-wrapped errors pass through.
 */
export function toRedisError(error: unknown, where: string, operation: string): RedisBackendError {
  if (error instanceof RedisBackendError) return error;
  const text = describeCause(error);
  const lower = text.toLowerCase();
  if (
    lower.includes('noauth') ||
    lower.includes('wrongpass') ||
    lower.includes('invalid password') ||
    lower.includes('invalid username-password') ||
    lower.includes('without any password configured') ||
    lower.includes('auth failed')
  ) {
    return new RedisBackendError(
      'ERR_REDIS_AUTH',
      `Redis at ${where} rejected the credentials during ${operation}: ${text}. ` +
        'Check the password (and username for ACL users) in the url or options.',
      { cause: error },
    );
  }
  if (lower.includes('command timed out')) {
    return new RedisBackendError(
      'ERR_REDIS_TIMEOUT',
      `Redis at ${where} did not answer ${operation} within commandTimeout. ` +
        'The server may be overloaded or unreachable; raise commandTimeout if the command is legitimately slow.',
      { cause: error },
    );
  }
  if (CONNECTION_PATTERNS.some((pattern) => lower.includes(pattern.toLowerCase()))) {
    return new RedisBackendError(
      'ERR_REDIS_CONNECTION',
      `Cannot reach Redis at ${where} for ${operation}: ${text}. ` +
        'Check that the server is running and that the url, host and port are right.',
      { cause: error },
    );
  }
  return new RedisBackendError(
    'ERR_REDIS_COMMAND',
    `Redis at ${where} failed ${operation}: ${text}`,
    { cause: error },
  );
}
