import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The README's third-party example is promised to be this package's test fixture, verbatim.
const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');

describe('README', () => {
  const readme = read('README.md');
  const blocks = [...readme.matchAll(/<!-- fixture: (\S+) -->\n```ts\n([\s\S]*?)```/g)];

  it('shows the example backend and its setup', () => {
    expect(blocks.map((block) => block[1])).toEqual([
      'test/fixtures/map-backend.ts',
      'test/map-backend.test.ts',
    ]);
  });

  it.each(blocks.map((block) => [block[1]!, block[2]!] as const))(
    'keeps %s verbatim',
    (path, code) => {
      expect(code).toBe(read(path));
    },
  );

  it('keeps the setup under 30 lines', () => {
    expect(read('test/map-backend.test.ts').trimEnd().split('\n').length).toBeLessThan(30);
  });
});
