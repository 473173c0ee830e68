/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Rejects with a message naming `what` when `promise` has not settled within `ms`. The kit uses
 * it wherever a broken backend would otherwise hang until the test timeout, which says nothing.
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms.`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` every `intervalMs` until it returns a truthy value, which is returned. Throws a
 * message naming `what` when `timeoutMs` passes first.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  what: string,
  { timeoutMs = 5000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const started = Date.now();
  for (;;) {
    const result = await check();
    if (result) return result as NonNullable<T>;
    if (Date.now() - started > timeoutMs)
      throw new Error(`${what}: not true after ${timeoutMs} ms.`);
    await sleep(intervalMs);
  }
}

/** A promise with its resolve function exposed, to hold a creator until the test lets it go. */
export interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** A promise that records whether it has settled, for "still waiting?" assertions. */
export interface Tracked<T> {
  readonly promise: Promise<T>;
  readonly settled: boolean;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const state = { settled: false };
  const wrapped = promise.finally(() => {
    state.settled = true;
  });
  // The test awaits it later; an early rejection must not count as unhandled meanwhile.
  wrapped.catch(() => {});
  return {
    promise: wrapped,
    get settled() {
      return state.settled;
    },
  };
}
