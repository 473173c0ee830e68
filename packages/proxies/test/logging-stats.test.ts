import { makeRegion, ValidationError } from '@dogpile/core';
import { MemoryBackend } from '@dogpile/memory';
import { describe, expect, it } from 'vitest';
import { type CallRecord, LATENCY_BUCKETS_MS, LoggingProxy, StatsProxy } from '../src/index.js';

function consoleLike() {
  const lines: Array<{ level: string; args: unknown[] }> = [];
  const at =
    (level: string) =>
    (...args: unknown[]) => {
      lines.push({ level, args });
    };
  return {
    lines,
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
  };
}

describe('LoggingProxy', () => {
  it('refuses a missing logger, unknown levels and options', () => {
    for (const options of [
      {},
      { logger: null },
      { logger: {} },
      { logger: console, level: 'loud' },
      { logger: console, style: 'xml' },
      { logger: console, color: true },
    ]) {
      expect(() => new LoggingProxy(options as never), JSON.stringify(options)).toThrow(
        ValidationError,
      );
    }
  });

  it('logs each call with key, duration and outcome, and no payloads', async () => {
    const { lines, logger } = consoleLike();
    const region = makeRegion().configure(new MemoryBackend(), {
      wrap: [new LoggingProxy({ logger })],
    });
    await region.set('k', { secret: 'hunter2' });
    await region.get('k');
    await region.get('missing');
    await region.getMulti(['k', 'missing']);
    const records = lines.map((l) => l.args[1] as CallRecord);
    expect(lines.every((l) => l.level === 'debug' && typeof l.args[0] === 'string')).toBe(true);
    expect(records.map((r) => [r.operation, r.outcome])).toEqual([
      ['set', 'ok'],
      ['get', 'hit'],
      ['get', 'miss'],
      ['getMulti', 'ok'],
    ]);
    expect(records[0]!.key).toBe('k');
    expect(records[3]).toMatchObject({ key: ['k', 'missing'], hits: 1 });
    for (const r of records) expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });

  it('logs payloads only when asked; errors at errorLevel; pino style', async () => {
    const pinoLines: Array<[string, unknown[]]> = [];
    const pino = {
      levels: { values: {} },
      child() {
        return this;
      },
      info: (...args: unknown[]) => pinoLines.push(['info', args]),
      error: (...args: unknown[]) => pinoLines.push(['error', args]),
    };
    class Failing extends MemoryBackend {
      override async delete(): Promise<void> {
        throw new Error('disk on fire');
      }
    }
    const region = makeRegion().configure(new Failing(), {
      wrap: [
        new LoggingProxy({ logger: pino, level: 'info', errorLevel: 'error', logPayloads: true }),
      ],
    });
    await region.set('k', 'visible');
    await expect(region.delete('k')).rejects.toThrow('disk on fire');
    expect(pinoLines[0]![0]).toBe('info');
    expect(pinoLines[0]![1][0]).toMatchObject({ operation: 'set', value: 'visible' });
    expect(pinoLines[1]![0]).toBe('error');
    expect(pinoLines[1]![1][0]).toMatchObject({
      operation: 'delete',
      outcome: 'error',
      error: 'Error: disk on fire',
    });
  });

  it('a logger that throws does not break the cache', async () => {
    const logger = {
      debug() {
        throw new Error('logger down');
      },
      warn() {},
    };
    const region = makeRegion().configure(new MemoryBackend(), {
      wrap: [new LoggingProxy({ logger })],
    });
    await region.set('k', 1);
    expect(await region.get('k')).toBe(1);
  });
});

describe('StatsProxy', () => {
  it('counts calls, hits, misses, bytes and latencies; snapshot is a copy; reset starts over', async () => {
    const stats = new StatsProxy();
    const region = makeRegion().configure(new MemoryBackend({ serialize: true }), {
      wrap: [stats],
    });
    await region.set('a', 'x'.repeat(100));
    await region.get('a');
    await region.get('b');
    await region.getMulti(['a', 'b', 'c']);
    const snap = stats.snapshot();
    expect(snap.hits).toBe(2);
    expect(snap.misses).toBe(3);
    expect(snap.bytesWritten).toBeGreaterThan(100);
    expect(snap.bytesRead).toBe(snap.bytesWritten * 2);
    expect(snap.operations.setSerialized!.calls).toBe(1);
    expect(snap.operations.getSerialized!.calls).toBe(2);
    expect(snap.operations.getSerializedMulti!.calls).toBe(1);
    const op = snap.operations.getSerialized!;
    expect(op.histogram).toHaveLength(LATENCY_BUCKETS_MS.length + 1);
    expect(op.histogram.reduce((a, b) => a + b, 0)).toBe(op.calls);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    await region.get('a');
    expect(snap.hits).toBe(2); // a copy
    stats.reset();
    expect(stats.snapshot()).toMatchObject({ hits: 0, misses: 0, bytesRead: 0, operations: {} });
  });

  it('counts errors and lock outcomes', async () => {
    const stats = new StatsProxy();
    class Failing extends MemoryBackend {
      override async get(): Promise<never> {
        throw new Error('nope');
      }
    }
    stats.wrap(new Failing());
    await expect(stats.get('k')).rejects.toThrow('nope');
    expect(stats.snapshot().operations.get).toMatchObject({ calls: 1, errors: 1 });
    expect(() => new StatsProxy({ verbose: true } as never)).toThrow(ValidationError);
  });
});
