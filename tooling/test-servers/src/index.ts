export { type WatchedChild, watchChild } from './child-lines.js';
export { eventually, sleep } from './eventually.js';
export { getFreePort, getFreePorts } from './free-port.js';
export {
  answersVersion,
  type MemcachedServer,
  memcachedBinary,
  type StartMemcachedOptions,
  startMemcached,
} from './memcached-server.js';
export {
  type RedisCluster,
  type StartRedisClusterOptions,
  startRedisCluster,
} from './redis-cluster.js';
export {
  type RedisSentinel,
  type StartRedisSentinelOptions,
  startRedisSentinel,
} from './redis-sentinel.js';
export {
  answersPing,
  type RedisServer,
  redisServerBinary,
  type StartRedisOptions,
  startRedis,
} from './redis-server.js';
export { type BinaryCheck, findBinary, isCI, requireBinaries } from './require-binary.js';
export { RespErrorReply, type RespReply, sendCommand } from './resp.js';
export { type ServerProcess, spawnServer, waitUntil } from './server-process.js';
