import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { PluginNotFoundError } from '../errors.js';
import type { CacheBackend } from './backend.js';
import { NullBackend } from './null-backend.js';

/** Builds a backend from the `arguments` of `configure()` or of a config file. */
export type BackendFactory = (args: Record<string, unknown>) => CacheBackend;

const factories = new Map<string, BackendFactory>([['null', () => new NullBackend()]]);

/** The packages `configureFromConfig` imports when a config names their backend. */
export const KNOWN_BACKEND_PACKAGES: Readonly<Record<string, string>> = Object.freeze({
  memory: '@dogpile/memory',
  redis: '@dogpile/redis',
  memcached: '@dogpile/memcached',
  sqlite: '@dogpile/sqlite',
  file: '@dogpile/file',
});

// Python configs say "dogpile.cache.redis"; accept them unchanged.
function normalize(name: string): string {
  return name.startsWith('dogpile.cache.') ? name.slice('dogpile.cache.'.length) : name;
}

/**
 * Makes `name` usable in `region.configure(name, { arguments })`. Backend packages register
 * themselves when imported (`'memory'`, `'redis'`, ...); register your own the same way.
 */
export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(normalize(name), factory);
}

/** The factory registered under `name`, or a {@link PluginNotFoundError}. */
export function getBackendFactory(name: string): BackendFactory {
  const factory = factories.get(normalize(name));
  if (!factory) throw new PluginNotFoundError(name, [...factories.keys()]);
  return factory;
}

/**
 * Like {@link getBackendFactory}, but first imports the package of a known backend that is not
 * registered yet. The package is resolved from this module, then from the working directory, so
 * an application that installed `@dogpile/redis` can name `'redis'` in its config.
 */
export async function loadBackendFactory(name: string): Promise<BackendFactory> {
  const key = normalize(name);
  const pkg = KNOWN_BACKEND_PACKAGES[key];
  if (!factories.has(key) && pkg) {
    try {
      await import(pkg);
    } catch (first) {
      try {
        const resolved = createRequire(`${process.cwd()}/`).resolve(pkg);
        await import(pathToFileURL(resolved).href);
      } catch {
        throw new PluginNotFoundError(name, [...factories.keys()], { cause: first });
      }
    }
  }
  return getBackendFactory(name);
}
