/**
 * This file deliberately does not import @dogpile/memory: configureFromConfig must import the
 * package itself when a config names the 'memory' backend.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { makeRegion, NO_VALUE } from '@dogpile/core';
import { describe, expect, it } from 'vitest';
import { packageDir, useBuiltPackage } from './built-package.js';

useBuiltPackage();

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

describe('where the package is looked for', () => {
  // An application in its own directory, with the packages in its node_modules, started from `/`:
  // the package is not next to @dogpile/core and not under the working directory.
  function makeApp(): string {
    const app = mkdtempSync(join(tmpdir(), 'dogpile-app-'));
    mkdirSync(join(app, 'node_modules', '@dogpile'), { recursive: true });
    symlinkSync(join(packageDir, '..', 'core'), join(app, 'node_modules', '@dogpile', 'core'));
    symlinkSync(packageDir, join(app, 'node_modules', '@dogpile', 'memory'));
    return app;
  }

  function run(app: string, script: string): string {
    writeFileSync(join(app, 'main.mjs'), script);
    return execFileSync(process.execPath, [join(app, 'main.mjs')], {
      cwd: '/',
      encoding: 'utf8',
    }).trim();
  }

  it("from the main script's directory, whatever the working directory", () => {
    const app = makeApp();
    try {
      const out = run(
        app,
        `import { makeRegion } from '@dogpile/core';
const region = await makeRegion().configureFromConfig({ 'c.backend': 'dogpile.cache.memory' }, 'c.');
console.log(region.backend.constructor.name);`,
      );
      expect(out).toBe('MemoryBackend');
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('from resolveFrom, for an application whose main script lives elsewhere', () => {
    const app = makeApp();
    const elsewhere = mkdtempSync(join(tmpdir(), 'dogpile-main-'));
    try {
      writeFileSync(
        join(app, 'lib.mjs'),
        `import { makeRegion } from '@dogpile/core';
export const name = (await makeRegion().configureFromConfig({ 'c.backend': 'memory' }, 'c.', { resolveFrom: import.meta.url })).backend.constructor.name;`,
      );
      const out = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const m = await import(${JSON.stringify(pathToFileURL(join(app, 'lib.mjs')).href)}); console.log(m.name);`,
        ],
        { cwd: elsewhere, encoding: 'utf8' },
      ).trim();
      expect(out).toBe('MemoryBackend');
    } finally {
      rmSync(app, { recursive: true, force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
