import type { Socket } from 'node:net';
import memjs from 'memjs';
import { closedError, MemcachedBackendError, STATUS_TEXT, toMemcachedError } from './errors.js';
import { formatAddress } from './servers.js';

type Client = memjs.Client;
type Server = memjs.Server;

/** Binary protocol opcodes used here. */
export const Op = {
  GET: 0x00,
  SET: 0x01,
  ADD: 0x02,
  DELETE: 0x04,
  VERSION: 0x0b,
} as const;

/** Binary protocol response statuses used here. */
export const Status = {
  OK: 0x00,
  NOT_FOUND: 0x01,
  EXISTS: 0x02,
  TOO_LARGE: 0x03,
  NOT_STORED: 0x05,
  AUTH_ERROR: 0x20,
} as const;

/** A server's answer to one request. */
export interface Reply {
  readonly status: number;
  readonly value: Buffer;
  /** The item's CAS (8 bytes), as GET returns it. */
  readonly cas: Buffer;
}

/** One request to send. */
export interface Request {
  readonly opcode: number;
  /** The wire key (see `wireKey`); also picks the server. */
  readonly key: string;
  readonly extras?: Buffer;
  readonly value?: Buffer;
  /** Only act if the item's CAS is still this (SET, DELETE). */
  readonly cas?: Buffer;
  /** Names the command in error messages, e.g. `'GET'`. */
  readonly operation: string;
  /** Safe to send again after a connection error (reads, plain writes; not ADD). */
  readonly idempotent: boolean;
}

/** Settings of {@link Transport}. */
export interface TransportOptions {
  /** Backstop for one request, in ms, on top of memjs's own timeouts. */
  readonly requestTimeoutMs: number;
  /** Extra attempts of an idempotent request after a connection error. */
  readonly retries: number;
  readonly retryDelayMs: number;
  /** How soon a server that failed is first probed (VERSION); later probes back off to 10x. */
  readonly probeIntervalMs: number;
  /** Picks the index of the server for a key; default: the client's `getServer`. */
  readonly placement?: ((key: string) => number) | undefined;
}

interface Pending {
  /** The connection the request went out on, once written. */
  socket: Socket | undefined;
  /** `performance.now()` after which the request is given up. */
  readonly deadline: number;
  readonly server: Server;
  readonly finish: (error: unknown, reply?: Reply) => void;
}

const NO_BUFFER = Buffer.alloc(0);
const ZERO_CAS = Buffer.alloc(8);

/** memjs's `Server` with what it keeps private. */
interface ServerInternals {
  _socket?: Socket;
  responseCallbacks: Record<number, unknown>;
  errorCallbacks: Record<number, unknown>;
  requestTimeouts: number[];
  connected: boolean;
  options: { timeout?: number };
}

/** Requests waiting for the end of the current tick, to go out in one write per server. */
interface Batch {
  readonly buffers: Buffer[];
  readonly pendings: Pending[];
}

/**
 * Sends binary protocol requests through a memjs `Client`'s connections, with what memjs's own
 * commands lack: CAS on any request, the raw status of every reply, a bound on every request
 * (memjs never answers a request whose connection the server closed), and fail-fast: once a
 * server failed to connect or to answer, requests for its keys fail at once, without a round
 * trip, until a background VERSION probe gets an answer.
 */
export class Transport {
  readonly client: Client;
  readonly #options: TransportOptions;
  /** Servers known to be down or stalled, with the error that said so. */
  readonly #down = new Map<Server, MemcachedBackendError>();
  readonly #pending = new Map<number, Pending>();
  readonly #watched = new WeakSet<Socket>();
  readonly #batches = new Map<Server, Batch>();
  #flushScheduled = false;
  /** Gives up requests past their deadline; one timer for all of them, not one per request. */
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  constructor(client: Client, options: TransportOptions) {
    this.client = client;
    this.#options = options;
    this.#sweeper = setInterval(
      () => this.#sweep(),
      Math.max(10, Math.min(250, options.requestTimeoutMs / 4)),
    );
    this.#sweeper.unref();
  }

  /** The server that holds `key`, chosen as memjs chooses (its `getServer`, which may be overridden). */
  serverFor(key: string): Server {
    const servers = this.client.servers;
    if (servers.length === 1) return servers[0]!;
    const placement = this.#options.placement;
    const index =
      placement === undefined ? (this.client.getServer(key) as unknown as number) : placement(key);
    const server = servers[index];
    if (server === undefined) {
      throw new MemcachedBackendError(
        'ERR_MEMCACHED_COMMAND',
        `The server placement of "${key}" returned ${String(index)}, not the index of one of its ${servers.length} servers.`,
      );
    }
    return server;
  }

  /** `host:port` of `server`. */
  where(server: Server): string {
    return formatAddress(server);
  }

  /** Sends `request` to its key's server; rejects with a {@link MemcachedBackendError}. */
  send(request: Request): Promise<Reply> {
    // Not async: the hit path pays for one promise, the request's own.
    if (this.#closed) return Promise.reject(closedError());
    let server: Server;
    try {
      server = this.serverFor(request.key);
    } catch (error) {
      return Promise.reject(error);
    }
    const down = this.#down.get(server);
    if (down !== undefined) {
      return Promise.reject(this.#stillDown(server, down, request.operation));
    }
    if (this.#options.retries > 0 && request.idempotent) return this.#withRetries(server, request);
    return this.#sendTo(server, request, true);
  }

  async #withRetries(server: Server, request: Request): Promise<Reply> {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= this.#options.retries;
      try {
        return await this.#sendTo(server, request, last);
      } catch (error) {
        const failure = error as MemcachedBackendError;
        if (last || failure.code !== 'ERR_MEMCACHED_CONNECTION') {
          this.#markDown(server, failure);
          throw failure;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, this.#options.retryDelayMs).unref());
      if (this.#closed) throw closedError();
    }
  }

  #stillDown(
    server: Server,
    down: MemcachedBackendError,
    operation: string,
  ): MemcachedBackendError {
    return new MemcachedBackendError(
      down.code,
      `${down.message.replace(/\.$/, '')}. Failing at once until ${this.where(server)} answers again (probed in the background); ${operation} was not sent.`,
      { cause: down.cause },
    );
  }

  /**
   * One request on the wire: answered, failed (as a {@link MemcachedBackendError}; with
   * `markDown`, a connection failure also makes the server fail fast), or given up when the
   * sweeper finds it past its deadline.
   */
  #sendTo(server: Server, request: Request, markDown: boolean): Promise<Reply> {
    const client = this.client;
    client.incrSeq();
    const seq = client.seq;
    const buffer = memjs.Utils.makeRequestBuffer(
      request.opcode,
      request.key,
      request.extras ?? NO_BUFFER,
      request.value ?? NO_BUFFER,
      seq,
    );
    if (request.cas !== undefined) request.cas.copy(buffer, 16);
    return new Promise<Reply>((resolve, reject) => {
      const pending: Pending = {
        socket: undefined,
        deadline: performance.now() + this.#options.requestTimeoutMs,
        server,
        finish: (error, reply) => {
          if (!this.#pending.delete(seq)) return;
          if (error === undefined) {
            resolve(reply!);
            return;
          }
          // A command cut off by our own close() fails because of the close, not the server.
          const failure = this.#closed
            ? closedError()
            : toMemcachedError(error, this.where(server), request.operation);
          if (markDown) this.#markDown(server, failure);
          reject(failure);
        },
      };
      this.#pending.set(seq, pending);
      server.onResponse(seq, (response) => {
        pending.finish(undefined, {
          status: response.header.status,
          value: response.val,
          cas: response.header.cas ?? ZERO_CAS,
        });
      });
      server.onError(seq, (error) => pending.finish(error ?? new Error('connection failed')));
      this.#enqueue(server, buffer, pending);
    });
  }

  #enqueue(server: Server, buffer: Buffer, pending: Pending): void {
    let batch = this.#batches.get(server);
    if (batch === undefined) {
      batch = { buffers: [], pendings: [] };
      this.#batches.set(server, batch);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // After the current microtasks: every request made in this turn (64 callers woken by
        // one read of replies) goes out in one write, not one system call each.
        process.nextTick(this.#flush);
      }
    }
    batch.buffers.push(buffer);
    batch.pendings.push(pending);
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#closed) {
      // close() already failed these requests; writing them would reopen a closed connection.
      this.#batches.clear();
      return;
    }
    for (const [server, batch] of this.#batches) {
      const internals = server as unknown as ServerInternals;
      const count = batch.buffers.length;
      if (count === 1 || !internals.connected) {
        // Connecting: memjs queues each write until the connection (and SASL) is ready.
        for (const buffer of batch.buffers) server.write(buffer);
      } else {
        server.write(Buffer.concat(batch.buffers));
        // memjs counts one reply deadline per write and drops one per reply: add the others.
        const deadline =
          memjs.Utils.timestamp() + Math.round((internals.options.timeout ?? 0.5) * 1000);
        for (let i = 1; i < count; i++) internals.requestTimeouts.push(deadline);
      }
      for (const pending of batch.pendings) this.#watch(server, pending);
    }
    this.#batches.clear();
  };

  /** Fails the requests past their deadline (memjs's own timeouts catch nearly all first). */
  #sweep(): void {
    if (this.#pending.size === 0) return;
    const now = performance.now();
    for (const pending of this.#pending.values()) {
      if (pending.deadline > now) continue;
      pending.finish(
        new MemcachedBackendError(
          'ERR_MEMCACHED_TIMEOUT',
          `Memcached at ${this.where(pending.server)} did not answer within ${this.#options.requestTimeoutMs} ms. ` +
            'The server may be stopped, overloaded or unreachable; raise commandTimeout if the command is legitimately slow.',
        ),
      );
    }
  }

  /**
   * memjs forgets the requests of a connection that the server closed without an error (a
   * killed or restarted server): fail them at once instead of at their timeout.
   */
  #watch(server: Server, pending: Pending): void {
    const socket = (server as unknown as ServerInternals)._socket;
    if (socket === undefined) return;
    pending.socket = socket;
    if (this.#watched.has(socket)) return;
    this.#watched.add(socket);
    socket.once('close', () => {
      const internals = server as unknown as ServerInternals;
      if (internals._socket === undefined) {
        // Closed without an error, memjs kept the replies it waits for: forget them, as it does
        // after an error, so their deadlines cannot time out the next connection.
        internals.requestTimeouts.length = 0;
        for (const seq of Object.keys(internals.responseCallbacks)) {
          delete internals.responseCallbacks[Number(seq)];
          delete internals.errorCallbacks[Number(seq)];
        }
      }
      for (const each of [...this.#pending.values()]) {
        if (each.socket !== socket) continue;
        each.finish(
          new MemcachedBackendError(
            'ERR_MEMCACHED_CONNECTION',
            `The connection to Memcached at ${this.where(server)} closed before it answered (the server stopped or restarted).`,
          ),
        );
      }
    });
  }

  /** A connection, authentication or timeout failure: fail fast until a probe gets an answer. */
  #markDown(server: Server, failure: MemcachedBackendError): void {
    if (this.#closed || this.#down.has(server)) return;
    if (
      failure.code !== 'ERR_MEMCACHED_CONNECTION' &&
      failure.code !== 'ERR_MEMCACHED_TIMEOUT' &&
      failure.code !== 'ERR_MEMCACHED_AUTH'
    ) {
      return;
    }
    this.#down.set(server, failure);
    void this.#probe(server);
  }

  /**
   * Probes a failed server with VERSION until it answers: first after `probeIntervalMs`, then
   * backing off to ten times that, so a server that stays down is not hammered by every process.
   */
  async #probe(server: Server): Promise<void> {
    let delay = this.#options.probeIntervalMs;
    while (this.#down.has(server) && !this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, delay).unref());
      delay = Math.min(delay * 2, this.#options.probeIntervalMs * 10);
      if (this.#closed) return;
      try {
        const reply = await this.#sendTo(
          server,
          { opcode: Op.VERSION, key: '', operation: 'VERSION', idempotent: true },
          false,
        );
        // A server that wants SASL answers every command "authentication required".
        if (reply.status === Status.AUTH_ERROR) continue;
        this.#down.delete(server);
        return;
      } catch {
        // Still down: probe again after the interval.
      }
    }
  }

  /** Fails every request in flight and stops probing; the connections are the owner's to close. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#down.clear();
    for (const pending of [...this.#pending.values()]) pending.finish(closedError());
  }
}

/** The error for a reply whose status is not one the caller expects. */
export function statusError(
  status: number,
  where: string,
  operation: string,
): MemcachedBackendError {
  if (status === Status.AUTH_ERROR || status === 0x08) {
    return new MemcachedBackendError(
      'ERR_MEMCACHED_AUTH',
      `Memcached at ${where} refused ${operation}: ${STATUS_TEXT[status]}. Give username and password (the server runs with SASL, -S), or check them.`,
    );
  }
  return new MemcachedBackendError(
    'ERR_MEMCACHED_COMMAND',
    `Memcached at ${where} failed ${operation}: ${STATUS_TEXT[status] ?? `status 0x${status.toString(16)}`}.`,
  );
}
