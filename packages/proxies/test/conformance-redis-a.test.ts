import { proxiesOverRedis } from './redis-kit.js';

// Split in two files so they run in parallel.
proxiesOverRedis(['namespace', 'timeout', 'breaker', 'logging'], 1);
