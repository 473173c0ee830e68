/** The type of {@link NO_VALUE}. */
export class NoValue {
  /** dogpile.cache's `NoValue.NO_VALUE`, so logs read the same in both. */
  toString(): string {
    return 'NoValue.NO_VALUE';
  }
  toJSON(): never {
    // Storing the marker itself would turn "no value" into a value on the next read.
    throw new TypeError('NO_VALUE is a marker and cannot be serialized.');
  }
}

/**
 * The marker for "there is no value". Distinct from `null` and `undefined`, which are values and
 * can be cached.
 */
export const NO_VALUE: NoValue = Object.freeze(new NoValue());

/** True when `value` is the {@link NO_VALUE} marker. */
export function isNoValue(value: unknown): value is NoValue {
  return value === NO_VALUE;
}
