import { runConformance } from '@dogpile/conformance';
import { NullBackend } from '@dogpile/core';

// NullBackend lives in @dogpile/core, which cannot depend on this kit (the packages would form a
// cycle), so it runs the kit here, with capabilities that say what it is: it stores nothing and
// makes nobody wait.
runConformance({
  name: 'NullBackend',
  createBackend: () => new NullBackend(),
  capabilities: { stores: false, mutex: false },
});
