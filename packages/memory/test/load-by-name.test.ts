/**
 * This file deliberately does not import @dogpile/memory: configureFromConfig must import the
 * package itself when a config names the 'memory' backend.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeRegion, NO_VALUE } from '@dogpile/core';
import { beforeAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

// The package is imported as an application would, through its built entry point.
beforeAll(() => {
  if (!existsSync(`${packageDir}dist/index.js`)) {
    execFileSync('pnpm', ['exec', 'tsc', '-p', 'tsconfig.build.json'], {
      cwd: packageDir,
      stdio: 'inherit',
    });
  }
}, 60_000);

describe('configureFromConfig imports a known backend package it is named by', () => {
  it("'memory' loads @dogpile/memory and passes the coerced, camelCased arguments", async () => {
    const region = await makeRegion().configureFromConfig(
      {
        'cache.local.backend': 'memory',
        'cache.local.expiration_time': '300',
        'cache.local.arguments.max_entries': '2',
      },
      'cache.local.',
    );
    expect(region.expirationTime).toBe(300);
    expect(region.backend.constructor.name).toBe('MemoryBackend');
    await region.set('a', 1);
    await region.set('b', 2);
    await region.set('c', 3);
    // maxEntries arrived as the number 2: the least recently used entry was evicted.
    expect(await region.getMulti(['a', 'b', 'c'])).toEqual([NO_VALUE, 2, 3]);
  });
});
