import { connect } from 'node:net';

/**
 * A reply of {@link sendCommand}: simple and bulk strings as text, integers as numbers, arrays as
 * arrays, nil as `null`.
 */
export type RespReply = string | number | null | RespReply[];

/** A Redis error reply (`-ERR ...`), kept apart from connection failures. */
export class RespErrorReply extends Error {}

const INCOMPLETE = Symbol('incomplete');

/** Parses one reply at `offset`: the reply and where the next begins, or INCOMPLETE. */
function parse(
  buffer: Buffer,
  offset: number,
): [RespReply | RespErrorReply, number] | typeof INCOMPLETE {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return INCOMPLETE;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.subarray(offset + 1, lineEnd).toString('utf8');
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return [line, next];
    case '-':
      return [new RespErrorReply(line), next];
    case ':':
      return [Number(line), next];
    case '$': {
      const length = Number(line);
      if (length < 0) return [null, next];
      if (buffer.length < next + length + 2) return INCOMPLETE;
      return [buffer.subarray(next, next + length).toString('utf8'), next + length + 2];
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return [null, next];
      const items: RespReply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, at);
        if (item === INCOMPLETE) return INCOMPLETE;
        if (item[0] instanceof RespErrorReply) return item;
        items.push(item[0]);
        at = item[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`Unexpected RESP reply type "${type}"`);
  }
}

/**
 * Sends one command to the Redis server (or Sentinel) on `127.0.0.1:port` over a fresh
 * connection and returns its reply, so the launcher needs no client library for its readiness
 * checks. An error reply rejects with {@link RespErrorReply}.
 */
export function sendCommand(
  port: number,
  args: readonly string[],
  timeoutMs = 1000,
): Promise<RespReply> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let buffer = Buffer.alloc(0);
    const finish = (error: Error | undefined, reply?: RespReply) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(reply ?? null);
    };
    socket.setTimeout(timeoutMs, () =>
      finish(new Error(`No reply from port ${port} within ${timeoutMs} ms`)),
    );
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => {
      let out = `*${args.length}\r\n`;
      for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
      socket.write(out);
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      let parsed: ReturnType<typeof parse>;
      try {
        parsed = parse(buffer, 0);
      } catch (error) {
        finish(error as Error);
        return;
      }
      if (parsed === INCOMPLETE) return;
      const [reply] = parsed;
      if (reply instanceof RespErrorReply) finish(reply);
      else finish(undefined, reply);
    });
  });
}
