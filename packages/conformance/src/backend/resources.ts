import { expect, it } from 'vitest';
import { type Resolved, TestScope } from '../harness.js';
import { waitFor } from '../timing.js';
import { trackResources, use } from './shared.js';

/** `close()` leaves no handles or timers behind. */
export function registerResourceTests(o: Resolved): void {
  const t = o.timeoutMs;

  it(
    'close() leaves no open handles behind',
    async (ctx) => {
      const scope = new TestScope(o, ctx, 'backend');
      const resources = trackResources();
      ctx.onTestFinished(() => resources.stop());
      const backend = await scope.backend();
      await use(scope, backend, o);
      await scope.disposeNow(backend);
      // Sockets and timers may take a turn of the event loop to go after close() resolves.
      let left: string[] = [];
      await waitFor(
        () => {
          left = resources.open();
          return left.length === 0;
        },
        'handles opened by the backend to be closed',
        { timeoutMs: 3000, intervalMs: 50 },
      ).catch(() => {
        expect(left.join(', '), 'handles and timers the backend opened and close() left open').toBe(
          '',
        );
      });
    },
    t,
  );
}
