/** A clock the test moves by hand. Starts at a realistic epoch time in milliseconds. */
export class ManualClock {
  constructor(public ms = 1_700_000_000_000) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}
