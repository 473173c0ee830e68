import { channel } from 'node:diagnostics_channel';

/** The payload published on `dogpile:error`. */
export interface ErrorEvent {
  /** What was being done: `'asyncCreator'`, `'deserialize'`, ... */
  operation: string;
  key?: string | undefined;
  error: unknown;
}

/**
 * Errors that a fail-safe path absorbed instead of throwing (a background creator that failed, a
 * stored value that could not be read). Subscribe with `diagnostics_channel.subscribe`.
 */
export const errorChannel = channel('dogpile:error');

/**
 * Reports an error that is not thrown to a caller. Nobody listening: it becomes a process warning,
 * so it is never lost silently.
 */
export function reportError(event: ErrorEvent): void {
  if (errorChannel.hasSubscribers) {
    errorChannel.publish(event);
    return;
  }
  const error = event.error instanceof Error ? event.error : new Error(String(event.error));
  process.emitWarning(
    `dogpile ${event.operation}${event.key === undefined ? '' : ` for key "${event.key}"`} failed: ${error.message}`,
    { type: 'DogpileWarning', detail: error.stack },
  );
}
