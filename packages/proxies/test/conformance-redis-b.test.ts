import { proxiesOverRedis } from './redis-kit.js';

// Split in two files so they run in parallel.
proxiesOverRedis(['stats', 'gzip', 'brotli', 'encryption'], 2);
