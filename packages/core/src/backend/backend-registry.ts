import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PluginNotFoundError, ValidationError } from '../errors.js';
import { rejectUnknownOptions } from '../known-options.js';
import type { CacheBackend } from './backend.js';
import { NullBackend } from './null-backend.js';

/** Builds a backend from the `arguments` of `configure()` or of a config file. */
export type BackendFactory = (args: Record<string, unknown>) => CacheBackend;

const factories = new Map<string, BackendFactory>([['null', () => new NullBackend()]]);

/**
 * The packages `configureFromConfig` imports when a config names their backend. Python
 * dogpile.cache's Memcached names are here too (`'dogpile.cache.pymemcache'` is
 * `@dogpile/memcached`, which registers them). Its `dbm` is not: a DBM file is not a directory of
 * files, so `'file'` must be named, with its own arguments.
 */
export const KNOWN_BACKEND_PACKAGES: Readonly<Record<string, string>> = Object.freeze({
  memory: '@dogpile/memory',
  memory_pickle: '@dogpile/memory',
  redis: '@dogpile/redis',
  memcached: '@dogpile/memcached',
  pymemcache: '@dogpile/memcached',
  pylibmc: '@dogpile/memcached',
  bmemcached: '@dogpile/memcached',
  sqlite: '@dogpile/sqlite',
  file: '@dogpile/file',
});

/** Where {@link loadBackendFactory} looks for a backend package. */
export interface BackendResolveOptions {
  /**
   * A file or directory of the application (`import.meta.url` works) to resolve backend packages
   * from, tried before the main script's directory and the working directory. Default: none.
   *
   * @example
   * await region.configureFromConfig(config, 'cache.', { resolveFrom: import.meta.url });
   */
  resolveFrom?: string | URL;
}

// Python configs say "dogpile.cache.redis"; accept them unchanged.
function normalize(name: string): string {
  return name.startsWith('dogpile.cache.') ? name.slice('dogpile.cache.'.length) : name;
}

/** Directories to resolve a backend package from, the application's own first. */
function resolveBases(options: BackendResolveOptions): string[] {
  const bases: string[] = [];
  const from = options.resolveFrom;
  if (from !== undefined) {
    const path =
      from instanceof URL || from.startsWith('file:') ? fileURLToPath(from) : String(from);
    // A directory given without a trailing slash would resolve from its parent.
    bases.push(path.endsWith('/') ? path : `${path}/`);
    bases.push(`${dirname(path)}/`);
  }
  const main = process.argv[1];
  if (main) bases.push(`${dirname(main)}/`);
  bases.push(`${process.cwd()}/`);
  return bases;
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
 * `args` with Python's snake_case names turned to camelCase (`redis_expiration_time` →
 * `redisExpirationTime`), so dogpile.cache's argument names work unchanged.
 */
export function camelCaseKeys(args: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(args)) {
    out[key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())] = value;
  }
  return out;
}

/** `backend` itself if it is a backend, or the one its registered factory builds from `args`. */
export function backendFrom(
  backend: CacheBackend | string,
  args: Record<string, unknown>,
): CacheBackend {
  if (typeof backend === 'string') return getBackendFactory(backend)(camelCaseKeys(args));
  if (backend && typeof backend === 'object' && typeof backend.get === 'function') return backend;
  throw new ValidationError(
    'configure() takes a backend instance (new MemoryBackend()) or a registered backend name.',
  );
}

/**
 * Like {@link getBackendFactory}, but first imports the package of a known backend
 * ({@link KNOWN_BACKEND_PACKAGES}) that is not registered yet. The package is resolved from
 * `@dogpile/core` itself, then from `resolveFrom`, the main script's directory and the working
 * directory, so an application that installed `@dogpile/redis` can name `'redis'` in its config
 * wherever it is started from.
 */
export async function loadBackendFactory(
  name: string,
  options: BackendResolveOptions = {},
): Promise<BackendFactory> {
  rejectUnknownOptions(options, ['resolveFrom'], 'configureFromConfig() options');
  const key = normalize(name);
  const pkg = KNOWN_BACKEND_PACKAGES[key];
  if (!factories.has(key) && pkg) await importBackendPackage(name, pkg, options);
  return getBackendFactory(name);
}

async function importBackendPackage(
  name: string,
  pkg: string,
  options: BackendResolveOptions,
): Promise<void> {
  let firstError: unknown;
  try {
    await import(pkg);
    return;
  } catch (error) {
    firstError = error;
  }
  for (const base of resolveBases(options)) {
    let resolved: string;
    try {
      resolved = createRequire(base).resolve(pkg);
    } catch {
      continue;
    }
    // Found but failing to load is the package's own error: say so rather than "not found".
    await import(pathToFileURL(resolved).href);
    return;
  }
  throw new PluginNotFoundError(name, [...factories.keys()], { cause: firstError });
}
