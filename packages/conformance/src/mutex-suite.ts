import { describe } from 'vitest';
import { type Resolved, resolveOptions } from './harness.js';
import { registerAcquireTests } from './mutex/acquire.js';
import { registerCapabilityTests } from './mutex/capability.js';
import { registerDistributedTests } from './mutex/distributed.js';
import { registerExclusionTests } from './mutex/exclusion.js';
import { registerExpiryTests } from './mutex/expiry.js';
import { registerOwnershipTests } from './mutex/ownership.js';
import { mutexTests } from './mutex/shared.js';
import { registerWaitForReleaseTests } from './mutex/wait-for-release.js';
import type { ConformanceOptions } from './options.js';

/**
 * Registers the mutex suite: what `getMutex(key)` returns and, when it is a real lock, `acquire`,
 * `acquire(false)`, `locked` and `release`, exclusion among concurrent acquirers, independence
 * across keys, exclusion across backend instances (distributed), and lock expiry (lockTtlMs).
 */
export function mutexSuite(options: ConformanceOptions): void {
  registerMutexSuite(resolveOptions(options));
}

/** Registers the mutex groups (in `src/mutex/`) the capabilities allow, in a fixed order. */
export function registerMutexSuite(o: Resolved): void {
  const { caps } = o;

  describe(`${o.name}: mutex`, () => {
    registerCapabilityTests(o);
    if (caps.mutex === false) return;

    const m = mutexTests(o);
    registerAcquireTests(m);
    registerExclusionTests(m);
    registerOwnershipTests(m);
    registerWaitForReleaseTests(m);
    if (m.distributed) registerDistributedTests(m);
    if (caps.lockTtlMs !== undefined) registerExpiryTests(m);
  });
}
