import * as path from 'node:path';
import { BytesBackend, makeRegion, NO_VALUE, type NoValue } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { FileLockMutex, FileLockProxy, withFileLocks } from '../src/index.js';
import { useTempDirs } from './helpers.js';

const tempDir = useTempDirs();

/** A third-party store with no mutex of its own (getMutex: null) and a key mangler. */
class PlainStore extends BytesBackend {
  readonly data = new Map<string, Uint8Array>();
  closed = false;
  override keyMangler = (key: string) => `mangled:${key}`;
  async getSerialized(key: string): Promise<Uint8Array | NoValue> {
    return this.data.get(key) ?? NO_VALUE;
  }
  async getSerializedMulti(keys: readonly string[]): Promise<Array<Uint8Array | NoValue>> {
    return keys.map((key) => this.data.get(key) ?? NO_VALUE);
  }
  async setSerialized(key: string, value: Uint8Array): Promise<void> {
    this.data.set(key, value.slice());
  }
  async setSerializedMulti(mapping: ReadonlyMap<string, Uint8Array>): Promise<void> {
    for (const [key, value] of mapping) this.data.set(key, value.slice());
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  override async close(): Promise<void> {
    this.closed = true;
  }
}

describe('file locks in front of another backend', () => {
  it("through the region's wrap option: file mutexes, the store's own mangler and serializer", async () => {
    const store = new PlainStore();
    expect(store.getMutex('k')).toBeNull();
    const lockDirectory = path.join(tempDir(), 'locks');
    const proxy = new FileLockProxy({ lockDirectory });
    const region = makeRegion().configure(store, { expirationTime: 60, wrap: [proxy] });
    expect(region.backend).toBe(proxy);
    expect(region.actualBackend).toBe(store);
    expect(region.backend.getMutex('k')).toBeInstanceOf(FileLockMutex);
    expect(await region.getOrCreate('k', () => 'v')).toBe('v');
    expect([...store.data.keys()]).toEqual(['mangled:k']);
    // The creator ran under the file lock of the mangled key, and gave it back.
    expect(await proxy.locks.mutex('mangled:k').locked()).toBe(false);
    expect(proxy.locks.heldCount).toBe(0);
    await region.close();
    expect(store.closed).toBe(true);
    expect(proxy.locks.closed).toBe(true);
  });

  it('withFileLocks(backend, options) is the short form, and shows the backend serializer', async () => {
    const store = new PlainStore();
    const proxied = withFileLocks(store, { lockDirectory: path.join(tempDir(), 'locks') });
    expect(proxied).toBeInstanceOf(FileLockProxy);
    expect(proxied.proxied).toBe(store);
    expect(proxied.serializer).toBe(store.serializer);
    expect(proxied.keyMangler).toBe(store.keyMangler);
    const mutex = proxied.getMutex('k');
    expect(await mutex.acquire(false)).toBe(true);
    expect(await proxied.getMutex('k').acquire(false)).toBe(false);
    await proxied.close();
    expect(await mutex.locked().catch((error: { code: string }) => error.code)).toBe(
      'ERR_FILE_CLOSED',
    );
    expect(store.closed).toBe(true);
  });
});
