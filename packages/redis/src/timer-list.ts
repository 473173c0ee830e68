/**
 * ioredis arms a `commandTimeout` timer for every command and clears it on the reply. Node keeps
 * the timers of one duration in one list, which it creates when the first is armed and destroys
 * when the last is cleared, rescheduling its native timer both times: with one command in flight
 * at a time, that is every command, a sizeable part of a read's CPU time. An idle interval of the
 * same duration (unref'd: it keeps no process alive) keeps the list, so arming and clearing is a
 * plain list insert and removal. Only time is saved: every command keeps its own timeout.
 */
export function keepTimerList(commandTimeoutMs: number | undefined): NodeJS.Timeout | undefined {
  if (typeof commandTimeoutMs !== 'number' || !(commandTimeoutMs > 0)) return undefined;
  const keeper = setInterval(() => {}, commandTimeoutMs);
  keeper.unref();
  return keeper;
}
