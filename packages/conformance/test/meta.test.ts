import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

// The kit must catch broken backends. test/broken/*.kit.ts run it against backends that are wrong
// in one way each; this file runs them in a separate vitest process (a test that is meant to fail
// cannot run inside this one) and checks that exactly the tests aimed at that flaw fail, so the
// failure is the flaw's and not an accident of the fixture.

interface AssertionResult {
  title: string;
  status: 'passed' | 'failed' | 'skipped' | 'pending' | 'todo';
  failureMessages?: string[];
}
interface JsonReport {
  testResults: Array<{ name: string; assertionResults: AssertionResult[] }>;
}

const packageDir = fileURLToPath(new URL('..', import.meta.url));

function vitestCli(): string {
  const manifest = createRequire(import.meta.url).resolve('vitest/package.json');
  return join(dirname(manifest), 'vitest.mjs');
}

async function runBrokenKits(): Promise<{
  code: number | null;
  report: JsonReport;
  output: string;
}> {
  const outDir = mkdtempSync(join(tmpdir(), 'dogpile-meta-'));
  const outputFile = join(outDir, 'report.json');
  // The inner run must not think it is a worker of this one.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name !== 'TEST'),
  );
  try {
    const child = spawn(
      process.execPath,
      [
        vitestCli(),
        'run',
        '--config',
        'test/broken/vitest.config.ts',
        '--reporter=json',
        `--outputFile=${outputFile}`,
      ],
      { cwd: packageDir, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const report = JSON.parse(readFileSync(outputFile, 'utf8')) as JsonReport;
    return { code, report, output };
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

let run: Awaited<ReturnType<typeof runBrokenKits>>;

beforeAll(async () => {
  run = await runBrokenKits();
}, 180_000); // Runs whole kits in child processes: slow on a loaded 2-core CI machine.

function resultsOf(file: string): AssertionResult[] {
  const entry = run.report.testResults.find((result) =>
    result.name.endsWith(`/test/broken/${file}`),
  );
  if (!entry) throw new Error(`No results for ${file}:\n${run.output.slice(-3000)}`);
  return entry.assertionResults;
}

function failedTitles(file: string): string[] {
  return resultsOf(file)
    .filter((result) => result.status === 'failed')
    .map((result) => result.title)
    .sort();
}

describe('the kit fails broken backends, on exactly the checks for their flaw', () => {
  it('the run of the broken backends fails', () => {
    expect(run.code, run.output.slice(-3000)).toBe(1);
  });

  it('getMulti returning values out of order (store order instead of the order asked)', () => {
    expect(failedTitles('unordered-get-multi.kit.ts')).toEqual([
      'getMulti answers a key asked several times at every position',
      'getMulti keeps the order of the keys asked for, NO_VALUE where missing',
      'getSerializedMulti keeps order, repeats and misses; setSerializedMulti stores every entry',
    ]);
    expect(
      resultsOf('unordered-get-multi.kit.ts').filter((r) => r.status === 'passed').length,
    ).toBeGreaterThan(10);
  });

  it('a mutex that does not exclude (check, then take the lock one await later)', () => {
    expect(failedTitles('racy-mutex.kit.ts')).toEqual([
      '8 concurrent acquirers never hold the lock at the same time',
      'of 8 simultaneous acquire(false) calls on a free lock exactly one wins',
    ]);
  });

  it('a TTL mutex whose release() frees whoever holds the lock now', () => {
    expect(failedTitles('careless-release.kit.ts')).toEqual([
      'a holder whose lock expired and was taken does not release the new owner',
      'release() through a mutex that does not hold the lock leaves the holder its lock',
    ]);
  });

  it('a cached null read back as a miss', () => {
    expect(failedTitles('null-as-miss.kit.ts')).toEqual([
      'stores payloads of every JSON type, null included',
    ]);
  });

  it('a close() that leaves a timer running', () => {
    expect(failedTitles('leaky-close.kit.ts')).toEqual(['close() leaves no open handles behind']);
  });

  it('a waitForRelease() that resolves at once while the lock is held', () => {
    expect(failedTitles('eager-wait-for-release.kit.ts')).toEqual([
      'waitForRelease() does not resolve while the lock is held',
      // Resolving at once, it ignores the signal too.
      'waitForRelease() rejects with the signal reason when it aborts',
    ]);
  });

  it('a waitForRelease() that never notices a release, failing by name rather than by timeout', () => {
    expect(failedTitles('deaf-wait-for-release.kit.ts')).toEqual([
      'waitForRelease() does not resolve while the lock is held',
      'waitForRelease() resolves within lockPollMax + 50 ms (150 ms) of a release by another instance',
    ]);
    // Each failure names waitForRelease and what it waited for, not a bare test timeout.
    const messages = resultsOf('deaf-wait-for-release.kit.ts')
      .filter((result) => result.status === 'failed')
      .map((result) => (result.failureMessages ?? []).join('\n'));
    expect(messages).toHaveLength(2);
    for (const message of messages)
      expect(message).toMatch(/waitForRelease\(\) after .* still pending after/);
  });

  it('an in-process backend that claims a distributed mutex', () => {
    expect(failedTitles('local-claims-distributed.kit.ts')).toEqual([
      '8 acquirers spread over two backend instances never overlap',
      'concurrent getOrCreate calls through two backend instances run the creator once in total',
      'two backend instances exclude each other',
    ]);
  });
});
