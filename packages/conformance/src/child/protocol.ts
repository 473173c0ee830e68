import type { BackendHints } from '../options.js';

/** How a child builds its backend: a factory module, or a registered backend name. */
export interface InitMessage {
  type: 'init';
  factoryModule?: string | undefined;
  registeredBackend?:
    | { module: string; name: string; arguments: Record<string, unknown> }
    | undefined;
  hints: BackendHints;
}

/** Run `callers` concurrent `getOrCreate(key)` calls with a creator that takes `creatorMs`. */
export interface RaceMessage {
  type: 'race';
  key: string;
  callers: number;
  creatorMs: number;
}

/** Run one `getOrCreate(key)` whose creator reports `creating` and then never finishes. */
export interface HoldMessage {
  type: 'hold';
  key: string;
}

/** Use every part of the backend once (values, mutex, region), then close it. */
export interface UseMessage {
  type: 'use';
  key: string;
}

export type ParentMessage = InitMessage | RaceMessage | HoldMessage | UseMessage;

/** What a creator run returns, so the parent can tell whose value each caller got. */
export interface CreatedValue {
  pid: number;
  token: string;
}

export type Outcome =
  | { ok: true; value: CreatedValue }
  | { ok: false; name: string; code: string | undefined; message: string };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'creating'; at: number }
  | { type: 'results'; creatorStarts: number[]; created: string[]; outcomes: Outcome[] }
  | { type: 'closed' }
  | { type: 'fatal'; message: string };
