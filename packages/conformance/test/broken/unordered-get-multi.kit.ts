import { backendSuite } from '@dogpile/conformance';
import { BytesBackend, NO_VALUE, type NoValue } from '@dogpile/core';

/**
 * The classic `WHERE key IN (...)` bug: getSerializedMulti answers in the store's order, found
 * values first, instead of the order it was asked. Every single-key operation is correct.
 */
class UnorderedGetMulti extends BytesBackend {
  readonly #data = new Map<string, Uint8Array>();

  async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.#data.get(key) ?? NO_VALUE;
  }
  async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    const wanted = new Set(keys);
    const found = [...this.#data].filter(([key]) => wanted.has(key)).map(([, value]) => value);
    return [...found, ...Array<NoValue>(keys.length - found.length).fill(NO_VALUE)];
  }
  async setSerialized(key: string, value: Uint8Array): Promise<void> {
    this.#data.set(key, value);
  }
  async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const [key, value] of mapping) this.#data.set(key, value);
  }
  async delete(key: string): Promise<void> {
    this.#data.delete(key);
  }
}

backendSuite({
  name: 'unordered getMulti',
  createBackend: () => new UnorderedGetMulti(),
  capabilities: { serialized: true },
});
