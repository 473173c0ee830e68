import { NO_VALUE, type NoValue } from '@dogpile/core';
import { ReplyError } from 'ioredis';

/** Keys longer MGETs are split at, so one huge turn of reads does not become one huge command. */
const MAX_BATCH = 1000;

/** GETs gathered in one turn: their keys and how to answer each caller. */
interface ReadBatch {
  keys: string[];
  resolves: Array<(value: Uint8Array | NoValue) => void>;
  rejects: Array<(error: unknown) => void>;
}

function newBatch(): ReadBatch {
  return { keys: [], resolves: [], rejects: [] };
}

/** How a {@link ReadBatcher} reaches Redis; the backend answers for the connection's state. */
export interface ReadChannel {
  /** Whether commands can be sent now (the client is ready). */
  ready(): boolean;
  /** Resolves once they can; rejects with what a read gets when they cannot (closed, down). */
  whenReady(): Promise<void>;
  /** Throws what a read gets when none can be sent at all (closed, stalled). */
  check(): void;
  get(key: string): Promise<Buffer | null>;
  mget(keys: string[]): Promise<Array<Buffer | null>>;
  /** What the caller of a failed read of `key` gets. */
  failure(error: unknown, key: string): Error;
  /** Whether the backend was closed: a refused MGET is then not retried key by key. */
  closed(): boolean;
}

/**
 * A backend's GETs (`batchReads`). A read with none of ours in flight goes out at once, with no
 * wait for the turn to end (as auto-pipelining would make it). With reads in flight, a reply is
 * due soon anyway: the GETs issued in this turn are gathered into one MGET, one command to write,
 * parse and answer instead of many, and each caller gets the value at its own position.
 */
export class ReadBatcher {
  readonly #channel: ReadChannel;
  readonly #batching: boolean;
  /** GETs (and MGETs of gathered GETs) sent and not yet answered. */
  #inFlight = 0;
  /** The GETs gathered in this turn, to go out as one MGET when it ends; empty when none. */
  #gathered: ReadBatch = newBatch();

  constructor(channel: ReadChannel, options: { batching: boolean }) {
    this.#channel = channel;
    this.#batching = options.batching;
  }

  read(key: string): Promise<Uint8Array | NoValue> {
    if (!this.#batching || !this.#channel.ready()) return this.one(key);
    if (this.#inFlight === 0 && this.#gathered.keys.length === 0) return this.one(key);
    const batch = this.#gathered;
    if (batch.keys.length === 0) process.nextTick(this.#flush);
    batch.keys.push(key);
    return new Promise((resolve, reject) => {
      batch.resolves.push(resolve);
      batch.rejects.push(reject);
    });
  }

  /** One GET, on its own: once ready, one promise from ioredis's and no closure but on failure. */
  one(key: string): Promise<Uint8Array | NoValue> {
    const channel = this.#channel;
    if (!channel.ready()) return this.#oneWhenReady(key);
    this.#inFlight++;
    return channel.get(key).then(this.#gotOne, (error: unknown) => {
      this.#inFlight--;
      throw channel.failure(error, key);
    });
  }

  readonly #gotOne = (value: Buffer | null): Uint8Array | NoValue => {
    this.#inFlight--;
    return value === null ? NO_VALUE : value;
  };

  async #oneWhenReady(key: string): Promise<Uint8Array | NoValue> {
    await this.#channel.whenReady();
    return this.one(key);
  }

  /**
   * Sends the GETs gathered in the turn that just ended as one MGET (or several, of at most
   * {@link MAX_BATCH} keys). When the MGET fails (a timeout, a lost connection), each caller gets
   * the error a lone GET would; when the server refuses it, each key is read again alone.
   * MGET answers nil for a key holding another type (a list, a hash): a miss for that caller,
   * which the region regenerates and overwrites, as a lone GET's WRONGTYPE error leads to.
   */
  readonly #flush = (): void => {
    const batch = this.#gathered;
    this.#gathered = newBatch();
    const { keys } = batch;
    for (let start = 0; start < keys.length; start += MAX_BATCH) {
      void this.#send(batch, start, Math.min(keys.length, start + MAX_BATCH));
    }
  };

  async #send(batch: ReadBatch, start: number, end: number): Promise<void> {
    const channel = this.#channel;
    this.#inFlight++;
    try {
      channel.check();
      if (!channel.ready()) await channel.whenReady();
      const keys =
        start === 0 && end === batch.keys.length ? batch.keys : batch.keys.slice(start, end);
      const values = keys.length === 1 ? [await channel.get(keys[0]!)] : await channel.mget(keys);
      const { resolves } = batch;
      for (let i = start; i < end; i++) {
        const value = values[i - start];
        resolves[i]!(value === null || value === undefined ? NO_VALUE : value);
      }
    } catch (error) {
      if (end - start > 1 && error instanceof ReplyError && !channel.closed()) {
        // The server refused the MGET itself (a NOPERM for one key under an ACL, say): each
        // caller gets its own key's answer, so one key's error fails none of the others.
        for (let i = start; i < end; i++) {
          this.one(batch.keys[i]!).then(batch.resolves[i], batch.rejects[i]);
        }
        return;
      }
      for (let i = start; i < end; i++) batch.rejects[i]!(channel.failure(error, batch.keys[i]!));
    } finally {
      this.#inFlight--;
    }
  }
}
