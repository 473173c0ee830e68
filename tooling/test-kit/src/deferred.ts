/** A promise with its resolve/reject exposed, to hold a creator open until the test says so. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A creator held open until the test resolves `gate`, counting its runs. */
export function gatedCreator<T>() {
  const gate = deferred<T>();
  const creator = {
    runs: 0,
    gate,
    fn: () => {
      creator.runs++;
      return gate.promise;
    },
  };
  return creator;
}
