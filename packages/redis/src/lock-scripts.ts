import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** A Lua script and its SHA-1, run with EVALSHA so only the digest crosses the wire. */
export interface LuaScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): LuaScript {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Deletes the lock only if it still holds our token, then tells waiters (when a channel is given).
 * KEYS[1] lock key; ARGV[1] token; ARGV[2] channel or ''. Returns 1 if released, 0 if the lock was
 * no longer ours (expired, or taken by someone else since).
 */
export const RELEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], KEYS[1]) end
  return 1
end
return 0
`);

/**
 * Resets the lock's TTL only if it still holds our token. KEYS[1] lock key; ARGV[1] token;
 * ARGV[2] TTL in ms. Returns 1 if extended, 0 if the lock was no longer ours.
 */
export const EXTEND = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`);

/**
 * Runs `lua` on `key` by digest, loading it with EVAL when the server does not know it yet (a
 * restart, a failover or SCRIPT FLUSH empties the script cache). Defining it on the client with
 * `defineCommand` would change a client the application may own.
 */
export async function runScript(
  client: Redis | Cluster,
  lua: LuaScript,
  key: string,
  args: ReadonlyArray<string | number>,
): Promise<unknown> {
  try {
    return await client.evalsha(lua.sha, 1, key, ...args);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
      return client.eval(lua.source, 1, key, ...args);
    }
    throw error;
  }
}
