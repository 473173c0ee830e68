/**
 * Python dogpile.cache and this package share one Redis: each reads the values the other writes
 * (with a JSON serializer on the Python side), and both take the same lock (`_lock` + key), so a
 * cold key is created once whichever side gets there first. Needs a python3 that can import
 * dogpile.cache and redis (Debian: python3-dogpile.cache python3-redis). Without one the suite is
 * skipped loudly, and fails when CI is set.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { type CreationContext, makeRegion } from '@dogpile/core';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { eventually, makeBackend, noServers, sleep, standalone, uniquePrefix } from './helpers.js';

function findPython(): string | undefined {
  const candidates = [process.env.DOGPILE_PYTHON, '/usr/bin/python3', 'python3'].filter(
    (c): c is string => Boolean(c),
  );
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import dogpile.cache, redis'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const python = findPython();
if (!python) {
  const reason =
    'redis python-interop: no python3 with dogpile.cache and redis found (tried $DOGPILE_PYTHON, /usr/bin/python3, python3). ' +
    'Install python3-dogpile.cache and python3-redis to run these tests.';
  if (process.env.CI) throw new Error(`${reason} CI is set, so this is a failure.`);
  console.warn(`SKIPPED: ${reason}`);
}

/**
 * A Python region on the same server. argv: url, then a command: `get KEY`, `set KEY JSON`, or
 * `create KEY SECONDS JSON` (get_or_create whose creator prints "creating", sleeps, returns JSON).
 * Prints one JSON line with the result.
 */
const PY_SCRIPT = `
import json, sys, time
from dogpile.cache import make_region
from dogpile.cache.api import NO_VALUE
url, command, key = sys.argv[1], sys.argv[2], sys.argv[3]
region = make_region(
    serializer=lambda v: json.dumps(v).encode("utf-8"),
    deserializer=lambda b: json.loads(b),
).configure(
    "dogpile.cache.redis",
    expiration_time=3600,
    arguments={"url": url, "distributed_lock": True, "lock_timeout": 30, "lock_sleep": 0.01},
)
if command == "get":
    value = region.get(key)
    print(json.dumps({"missing": True} if value is NO_VALUE else {"value": value}))
elif command == "set":
    region.set(key, json.loads(sys.argv[4]))
    print(json.dumps({"ok": True}))
elif command == "create":
    seconds, made = float(sys.argv[4]), json.loads(sys.argv[5])
    def creator():
        print("creating", flush=True)
        time.sleep(seconds)
        return made
    print("ready", flush=True)
    print(json.dumps({"value": region.get_or_create(key, creator)}), flush=True)
`;

function runPython(...args: string[]): unknown {
  const result = spawnSync(python!, ['-c', PY_SCRIPT, inject('redisUrl'), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (result.status !== 0) throw new Error(`python failed: ${result.stderr || result.error}`);
  return JSON.parse(result.stdout);
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/**
 * Starts a Python get_or_create: `ready` resolves just before Python calls it, `creating` once its
 * creator runs, `result` when it is done.
 */
function startPythonCreate(key: string, seconds: number, made: unknown) {
  const child = spawn(
    python!,
    ['-c', PY_SCRIPT, inject('redisUrl'), 'create', key, String(seconds), JSON.stringify(made)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.push(child);
  let out = '';
  let err = '';
  let onReady: (() => void) | undefined;
  let onCreating: (() => void) | undefined;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const creating = new Promise<void>((resolve) => {
    onCreating = resolve;
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('ready\n')) onReady!();
    if (out.includes('creating\n')) onCreating!();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const result = new Promise<{ value: unknown; created: boolean }>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`python exited with ${code}: ${err}`));
      const last = out.trim().split('\n').at(-1)!;
      resolve({ ...(JSON.parse(last) as { value: unknown }), created: out.includes('creating\n') });
    });
  });
  return { ready, creating, result };
}

describe.skipIf(noServers || !python)('sharing Redis with Python dogpile.cache', () => {
  const p = uniquePrefix('python');
  const region = () =>
    makeRegion().configure(makeBackend(standalone, { distributedLock: true }), {
      expirationTime: 3600,
    });

  it('reads what Python wrote, and Python reads what we wrote', async () => {
    const value = { rows: [1, 'two', null], nested: { ok: true }, text: 'a | pipe ✓' };
    runPython('set', `${p}from-python`, JSON.stringify(value));
    await expect(region().get(`${p}from-python`)).resolves.toEqual(value);

    await region().set(`${p}from-node`, value);
    expect(runPython('get', `${p}from-node`)).toEqual({ value });
  });

  it('Python reads a value that carries tags and a shorter life (extra metadata it ignores)', async () => {
    const value = { tagged: true };
    await region().getOrCreate(
      `${p}tagged`,
      (ctx: CreationContext) => {
        ctx.setExpirationTime(600);
        return value;
      },
      { tags: [`${p}user:7`] },
    );
    expect(runPython('get', `${p}tagged`)).toEqual({ value });
  });

  it("waits for Python's creator instead of running its own", async () => {
    const key = `${p}python-creates`;
    const python = startPythonCreate(key, 0.5, { by: 'python' });
    await python.creating;
    // Python holds `_lock<key>` now: ours sees it and waits for Python's value.
    expect(await makeBackend(standalone, { distributedLock: true }).getMutex(key)!.locked()).toBe(
      true,
    );
    let ran = false;
    const value = await region().getOrCreate(key, async () => {
      ran = true;
      return { by: 'node' };
    });
    expect(ran).toBe(false);
    expect(value).toEqual({ by: 'python' });
    await expect(python.result).resolves.toEqual({ value: { by: 'python' }, created: true });
  });

  it('makes Python wait for our creator instead of running its own', async () => {
    const key = `${p}node-creates`;
    let python: ReturnType<typeof startPythonCreate> | undefined;
    const ours = region().getOrCreate(key, async () => {
      python = startPythonCreate(key, 0, { by: 'python' });
      // Once Python calls get_or_create it finds the key missing and blocks on our lock.
      await python.ready;
      await sleep(300);
      return { by: 'node' };
    });
    await expect(ours).resolves.toEqual({ by: 'node' });
    expect(await eventually(() => python !== undefined)).toBe(true);
    await expect(python!.result).resolves.toEqual({ value: { by: 'node' }, created: false });
  });
});
