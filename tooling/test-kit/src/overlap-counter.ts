/**
 * Counts creators running at the same time. `enter()` at creator start, `exit()` at its end;
 * `max` is the largest overlap seen.
 */
export class OverlapCounter {
  running = 0;
  max = 0;
  total = 0;
  enter(): void {
    this.running++;
    this.total++;
    if (this.running > this.max) this.max = this.running;
  }
  exit(): void {
    this.running--;
  }
  /** Runs `fn` between enter and exit. */
  async around<T>(fn: () => T | Promise<T>): Promise<T> {
    this.enter();
    try {
      return await fn();
    } finally {
      this.exit();
    }
  }
}
