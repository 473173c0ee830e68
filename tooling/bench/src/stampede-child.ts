/**
 * One process of the cross-process stampede (started by cases/stampede-processes.ts through
 * ChildPool). argv[2] is JSON `{ stores, callers }`. It opens every contender on each store,
 * prints one line, then answers each stdin line `{ store, contender, key, creatorMs }` with the
 * JSON of one burst: `callers` concurrent read-through calls on that cold key. It closes its
 * connections and exits when stdin ends (also when the parent dies).
 */
import { createInterface } from 'node:readline';
import { type Contender, closeAll, contendersOn } from './peers/index.js';
import { burst } from './stampede-burst.js';
import type { BurstRequest, ChildArgs, Hello } from './stampede-protocol.js';

const { stores, callers } = JSON.parse(process.argv[2]!) as ChildArgs;
const byStore = new Map<string, Contender[]>();
try {
  const hello: Hello = {};
  for (const store of stores) {
    const { contenders, notApplicable } = await contendersOn(store);
    byStore.set(store.kind, contenders);
    hello[store.kind] = {
      contenders: contenders.map(({ id, name }) => ({ id, name })),
      notApplicable,
    };
  }
  process.stdout.write(`${JSON.stringify(hello)}\n`);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line) as BurstRequest;
    try {
      const contender = byStore.get(request.store)?.find((c) => c.id === request.contender);
      if (!contender) throw new Error(`no contender ${request.contender} on ${request.store}`);
      const result = await burst(contender, request.key, callers, request.creatorMs);
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } catch (error) {
      process.stdout.write(`${JSON.stringify({ error: String(error) })}\n`);
    }
  }
} finally {
  await closeAll([...byStore.values()].flat());
}
