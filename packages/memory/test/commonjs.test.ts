import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { packageDir, useBuiltPackage } from './built-package.js';

useBuiltPackage();

// NestJS and older applications are CommonJS: Node 20.19+ loads these ES modules through require().
describe('from CommonJS', () => {
  it('require() loads @dogpile/core and @dogpile/memory, and the dogpile lock works', () => {
    const script = `
      const { makeRegion, isNoValue, ValidationError } = require('@dogpile/core');
      const { MemoryBackend } = require('@dogpile/memory');
      const region = makeRegion().configure(new MemoryBackend(), { expirationTime: 60 });
      let runs = 0;
      const creator = async () => { runs++; await new Promise((r) => setTimeout(r, 20)); return 'v'; };
      Promise.all(Array.from({ length: 10 }, () => region.getOrCreate('k', creator))).then(async (values) => {
        const missing = await region.get('other');
        console.log(JSON.stringify({ values: [...new Set(values)], runs, missing: isNoValue(missing), error: typeof ValidationError }));
      });
    `;
    const out = execFileSync(process.execPath, ['--input-type=commonjs', '-e', script], {
      cwd: packageDir,
      encoding: 'utf8',
    });
    expect(JSON.parse(out)).toEqual({ values: ['v'], runs: 1, missing: true, error: 'function' });
  });
});
