import { makeRegion } from '@dogpile/core';
import { MemcachedBackend } from '@dogpile/memcached';
import { startMemcached } from '@dogpile/test-servers';
import memjs from 'memjs';
const m = await startMemcached();
const VALUE = { id: 42, name: 'Ada Lovelace', email: 'ada@example.com', roles: ['admin', 'author'] };
const keys = Array.from({ length: 1024 }, (_, i) => `k:${i}`);
const raw = memjs.Client.create(m.address, { logger: { log() {} } });
const backend = new MemcachedBackend({ servers: m.address, distributedLock: true });
const region = makeRegion().configure(backend, { expirationTime: 3600 });
for (const k of keys) await region.set(k, VALUE);
let i = 0;
const ops: Record<string, () => Promise<unknown>> = {
  raw: () => raw.get(keys[i++ & 1023]!),
  getSerialized: () => backend.getSerialized(keys[i++ & 1023]!),
  backendGet: () => backend.get(keys[i++ & 1023]!),
  regionGet: () => region.get(keys[i++ & 1023]!),
  getOrCreate: () => region.getOrCreate(keys[i++ & 1023]!, () => Promise.reject(new Error('x'))),
};
async function round(op: () => Promise<unknown>, n: number, inFlight: number) {
  const t = process.cpuUsage();
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => { while (next++ < n) await op(); }));
  const u = process.cpuUsage(t);
  return ((u.user + u.system) * 1000) / n;
}
const res: Record<string, number[]> = {};
for (let r = 0; r < 7; r++) for (const [name, op] of Object.entries(ops)) (res[name] ??= []).push(await round(op, 20000, 64));
for (const [name, v] of Object.entries(res)) { v.sort((a, b) => a - b); console.log(name.padEnd(14), Math.round(v[3]!)); }
raw.close(); await region.close(); await m.stop(); process.exit(0);
