/**
 * A clock for L1's age checks that costs a variable read: `performance.now()` costs 100 ns or
 * more on some virtual machines, as much as the rest of an L1 hit. One unreferenced interval per
 * process refreshes it every {@link TICK_MS} while a user is registered, so it lags the real
 * clock by at most one tick, plus the length of the macrotask running when it is read (timers
 * run before I/O callbacks in each turn of the event loop).
 */
export const TICK_MS = 5;

let now = performance.now();
let users = 0;
let timer: ReturnType<typeof setInterval> | undefined;

/** The clock's reading, `performance.now()` milliseconds, at most a tick behind. */
export function coarseNow(): number {
  return now;
}

/** Reads the real clock into the coarse one and returns it. */
export function refreshNow(): number {
  now = performance.now();
  return now;
}

/** Keeps the clock ticking until the returned function is called. */
export function useCoarseClock(): () => void {
  if (users++ === 0) {
    refreshNow();
    timer = setInterval(refreshNow, TICK_MS);
    timer.unref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--users === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}
