import type { Clock } from '../clock.js';
import type { AcquireOptions, CacheMutex } from './mutex.js';

/**
 * Wraps `mutex` so that each blocking wait on it (`acquire(true)`, `waitForRelease`) reports its
 * duration in milliseconds to `onWait`, whether it ended in success, a give-up or an error, unless
 * `waits`, asked as the wait begins, says it will not really wait.
 * Non-blocking acquires and releases pass straight through. `waitForRelease` exists on the
 * wrapper only if it exists on `mutex`, since callers test for it.
 */
export function timeWaits(
  mutex: CacheMutex,
  clock: Clock,
  onWait: (durationMs: number) => void,
  waits: () => boolean = () => true,
): CacheMutex {
  const timed = async <R>(wait: () => Promise<R>): Promise<R> => {
    if (!waits()) return wait();
    const started = clock.now();
    try {
      return await wait();
    } finally {
      onWait(clock.now() - started);
    }
  };
  const wrapper: CacheMutex = {
    acquire: (wait = true, options?: AcquireOptions) =>
      wait ? timed(() => mutex.acquire(true, options)) : mutex.acquire(false, options),
    release: () => mutex.release(),
    locked: () => mutex.locked(),
  };
  if (mutex.waitForRelease) {
    const waitForRelease = mutex.waitForRelease.bind(mutex);
    wrapper.waitForRelease = (options?: AcquireOptions) => timed(() => waitForRelease(options));
  }
  return wrapper;
}
