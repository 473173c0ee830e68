import { type FSWatcher, watch } from 'node:fs';
import { basename } from 'node:path';
import type { ReleaseWatch } from '@dogpile/core';

/**
 * One `fs.watch` on the lock directory, shared by every waiter of one lock store: an entry
 * `<hash>.lock` that is removed or replaced calls the callbacks subscribed to that name. The
 * watcher runs only while someone waits, so an idle process holds no watch.
 *
 * Where watching fails (the directory was removed, too many inotify watches, a file system that
 * refuses it) `listening` is false, so core's `LeaseMutex` falls back to backoff polling; the next
 * subscription tries again. Where it "works" but never reports another host's changes (NFS, SMB,
 * FUSE and other network file systems), `listening` stays true and waiters still poll every
 * `lockPollMax`: set `lockWatch: false` there to poll from `lockPollMin` instead.
 */
export class DirectoryWatch {
  readonly #directory: string;
  readonly #isHeld: (name: string) => boolean;
  readonly #subscribers = new Map<string, Set<() => void>>();
  #watcher: FSWatcher | undefined;
  #count = 0;

  /**
   * @param isHeld whether the lock entry `name` is held right now (a synchronous read): an event
   *   is passed on only when it is not, so a take (a rename onto the entry), or an event queued
   *   before a subscription, never ends a `waitForRelease` while the lock is held.
   */
  constructor(directory: string, isHeld: (name: string) => boolean) {
    this.#directory = directory;
    this.#isHeld = isHeld;
  }

  /** Whether the watcher is up right now. */
  get listening(): boolean {
    return this.#watcher !== undefined;
  }

  /** Calls `onChange` whenever the entry `name` of the directory changes, until `stop()`. */
  subscribe(name: string, onChange: () => void): ReleaseWatch {
    let set = this.#subscribers.get(name);
    if (set === undefined) {
      set = new Set();
      this.#subscribers.set(name, set);
    }
    // One function object per subscription, so a waiter subscribed twice is removed once per stop.
    const callback = () => onChange();
    set.add(callback);
    this.#count++;
    this.#start();
    let stopped = false;
    const self = this;
    return {
      get listening() {
        return !stopped && self.listening;
      },
      stop: () => {
        if (stopped) return;
        stopped = true;
        const current = this.#subscribers.get(name);
        current?.delete(callback);
        if (current?.size === 0) this.#subscribers.delete(name);
        this.#count--;
        if (this.#count === 0) this.#close();
      },
    };
  }

  /** Drops the watcher (after the directory was recreated); the next change of subscribers restarts it. */
  reset(): void {
    this.#close();
    if (this.#count > 0) this.#start();
  }

  #start(): void {
    if (this.#watcher !== undefined) return;
    let watcher: FSWatcher;
    try {
      // persistent: false: a wait keeps the process alive through its own timers, not the watch.
      watcher = watch(this.#directory, { persistent: false });
    } catch {
      // ENOENT, ENOSPC (inotify limit), unsupported: waiters poll; a later subscription retries.
      return;
    }
    watcher.on('change', (_event, filename) => this.#dispatch(filename));
    watcher.on('error', () => {
      // Waiters see listening turn false at their next poll (at most lockPollMax) and back off
      // from lockPollMin; a wake here would end a waitForRelease as if the lock were released.
      if (this.#watcher === watcher) this.#close();
    });
    this.#watcher = watcher;
  }

  #dispatch(filename: string | Buffer | null): void {
    if (filename === null) {
      // A platform that does not say which entry changed: useless for waking one key's waiters,
      // and a spurious wake would end a waitForRelease early. Poll instead.
      this.#close();
      return;
    }
    const name = typeof filename === 'string' ? filename : filename.toString();
    const set = this.#subscribers.get(name);
    if (set !== undefined) {
      let held: boolean;
      try {
        held = this.#isHeld(name);
      } catch {
        // Unreadable: let the waiters look for themselves.
        held = false;
      }
      if (held) return;
      for (const callback of [...set]) callback();
      return;
    }
    if (name === basename(this.#directory)) {
      // inotify reports the watched directory's own removal under its name; the watch is dead.
      this.#close();
    }
  }

  #close(): void {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.close();
  }
}
