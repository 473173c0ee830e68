import { mutexSuite, regionSuite } from '@dogpile/conformance';
import { MapBackend } from '../fixtures/map-backend.js';

// A correct in-process backend whose capabilities claim a distributed mutex: two instances do not
// see each other's locks (or values), which the kit must notice.
const options = {
  name: 'local claims distributed',
  createBackend: () => new MapBackend(),
  capabilities: { serialized: true, mutex: 'distributed' as const },
};
mutexSuite(options);
regionSuite(options);
