import { describe, expectTypeOf, it } from 'vitest';
import {
  type CachedFunction,
  type CreationContext,
  makeRegion,
  type NoValue,
} from '../src/index.js';
import { MapBackend } from './helpers.js';

interface User {
  id: number;
  name: string;
}

// Checked by `tsc` (pnpm typecheck), and run by vitest so that the wrappers also work.
describe('types that infer', () => {
  const region = makeRegion().configure(new MapBackend());

  it('cacheOnArguments takes its value and argument types from the function', async () => {
    const getUser = region.cacheOnArguments()(async function getUser(id: number) {
      return { id, name: `user ${id}` } satisfies User;
    });
    expectTypeOf(getUser).toEqualTypeOf<CachedFunction<[id: number], User>>();
    expectTypeOf(await getUser(1)).toEqualTypeOf<User>();
    expectTypeOf(await getUser.get(1)).toEqualTypeOf<User | NoValue>();
    // @ts-expect-error the argument is a number
    await getUser('1').catch(() => undefined);
  });

  it('a synchronous function gives the same value type', async () => {
    const twice = region.cacheOnArguments({ namespace: 'twice' })((n: number) => n * 2);
    expectTypeOf(await twice(2)).toEqualTypeOf<number>();
  });

  it('a type given explicitly still constrains the function', () => {
    // @ts-expect-error a string is not a number
    region.cacheOnArguments<number>({ namespace: 'n' })((n: number) => String(n));
  });

  it('withContext: the wrapped function takes the arguments before the context', async () => {
    const search = region.cacheOnArguments({ withContext: true, namespace: 'search' })(
      async (q: string, limit: number, ctx: CreationContext<string[]>) => {
        expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
        return [q.repeat(limit)];
      },
    );
    expectTypeOf(search).toEqualTypeOf<CachedFunction<[q: string, limit: number], string[]>>();
    expectTypeOf(await search('a', 2)).toEqualTypeOf<string[]>();
  });

  it('cacheMultiOnArguments takes its value type from the function', async () => {
    const many = region.cacheMultiOnArguments({ namespace: 'm' })(async (...ids: number[]) =>
      ids.map((id) => ({ id, name: `u${id}` })),
    );
    expectTypeOf(await many(1, 2)).toEqualTypeOf<Array<{ id: number; name: string }>>();
    const dict = region.cacheMultiOnArguments({ asdict: true, namespace: 'd' })(
      async (...ids: number[]) => new Map(ids.map((id) => [id, id * 10] as const)),
    );
    expectTypeOf(await dict(1, 2)).toEqualTypeOf<Map<number, number>>();
  });

  it('getOrCreate takes its type from the creator', async () => {
    expectTypeOf(await region.getOrCreate('k', async () => 42)).toEqualTypeOf<number>();
  });
});
