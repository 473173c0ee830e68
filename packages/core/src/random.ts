/**
 * Where the region draws random numbers (today: the coin flips of early refresh). Returns a
 * number in `[0, 1)`, as `Math.random` does. Inject one (region option `random`) to make
 * probabilistic behaviour deterministic in tests.
 *
 * @example
 * const region = makeRegion({ random: () => 0 }); // every early-refresh coin flip comes up "refresh"
 */
export type RandomSource = () => number;

/** The default {@link RandomSource}. */
export const systemRandom: RandomSource = Math.random;
