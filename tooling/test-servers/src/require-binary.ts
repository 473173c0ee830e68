import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where to get each binary the launchers need, for the messages below. */
const INSTALL_HINTS: Record<string, string> = {
  'redis-server': 'apt-get install redis-server (or brew install redis)',
  'redis-cli': 'apt-get install redis-tools (or brew install redis)',
  memcached: 'apt-get install memcached (or brew install memcached)',
};

/** The absolute path of `name` on `PATH`, or `undefined`. */
export function findBinary(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** Whether `CI` is set to something other than empty, `0` or `false`. */
export function isCI(): boolean {
  const value = process.env.CI?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}

/** The outcome of {@link requireBinaries}. */
export interface BinaryCheck {
  /** Every binary was found: run the suite. */
  available: boolean;
  /** The binaries that are not on `PATH`. */
  missing: string[];
  /** Why the suite is skipped, or `undefined` when it runs. */
  reason: string | undefined;
}

/**
 * Decides whether a server-backed suite runs. All binaries present: runs. Some missing: under
 * `CI` this throws, because a CI run that silently skips its server tests proves nothing;
 * elsewhere it prints a loud warning naming the binaries and the suite is skipped.
 *
 * @example
 * const servers = requireBinaries('redis-server', 'redis-cli');
 * describe.skipIf(!servers.available)('redis', () => { ... });
 */
export function requireBinaries(...names: string[]): BinaryCheck {
  const missing = names.filter((name) => findBinary(name) === undefined);
  if (missing.length === 0) return { available: true, missing, reason: undefined };
  const hints = missing.map((name) => `${name}: ${INSTALL_HINTS[name] ?? 'install it'}`).join('; ');
  const reason = `${missing.join(', ')} not found on PATH (${hints})`;
  if (isCI()) {
    throw new Error(
      `Server-backed tests cannot run: ${reason}. CI is set, so this is a failure, not a skip.`,
    );
  }
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPING server-backed tests: ${reason}.\n!! Set CI=1 to make this a failure.\n${'!'.repeat(78)}\n`,
  );
  return { available: false, missing, reason };
}
