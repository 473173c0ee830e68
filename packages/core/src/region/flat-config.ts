import { camelCaseKeys } from '../backend/backend-registry.js';
import type { Duration } from '../duration.js';
import { ValidationError } from '../errors.js';

const INT = /^[-+]?\d+$/;
const FLOAT = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * Turns the strings of a flat config (an .ini file, environment variables) into the values they
 * spell, as dogpile's `coerce_string_conf`: integers and floats become numbers, `true`/`false`
 * (any case) booleans, `None`/`null` become `null`; other strings are trimmed and kept.
 */
export function coerceStringConfig(
  config: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(config)) {
    if (typeof raw !== 'string') {
      out[key] = raw;
      continue;
    }
    const value = raw.trim();
    if (INT.test(value) || FLOAT.test(value)) out[key] = Number(value);
    else if (/^(?:true|false)$/i.test(value)) out[key] = value.toLowerCase() === 'true';
    else if (value === 'None' || value === 'null') out[key] = null;
    else out[key] = value;
  }
  return out;
}

/** What a flat config says, as {@link readFlatConfig} reads it. */
export interface FlatConfig {
  /** The backend's registered name (`'redis'`, or Python's `'dogpile.cache.redis'`). */
  readonly backend: string;
  /** Every `<prefix>arguments.<name>`, with snake_case names turned to camelCase. */
  readonly arguments: Record<string, unknown>;
  readonly expirationTime: Duration | null;
  readonly replaceExistingBackend: boolean;
}

/**
 * Reads a flat config as dogpile's `configure_from_config` does: `<prefix>backend`,
 * `<prefix>expirationTime` (or `expiration_time`), `<prefix>replaceExistingBackend` (or
 * `replace_existing_backend`) and `<prefix>arguments.<name>`, after {@link coerceStringConfig}.
 */
export function readFlatConfig(
  config: Readonly<Record<string, unknown>>,
  prefix: string,
): FlatConfig {
  const values = coerceStringConfig(config);
  const backend = values[`${prefix}backend`];
  if (typeof backend !== 'string' || backend === '') {
    throw new ValidationError(`The config has no "${prefix}backend" naming a backend.`);
  }
  const argPrefix = `${prefix}arguments.`;
  const args: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    if (key.startsWith(argPrefix)) args[key.slice(argPrefix.length)] = value;
  }
  const expirationTime = (values[`${prefix}expirationTime`] ??
    values[`${prefix}expiration_time`]) as Duration | null | undefined;
  const replace =
    values[`${prefix}replaceExistingBackend`] ?? values[`${prefix}replace_existing_backend`];
  return {
    backend,
    arguments: camelCaseKeys(args),
    expirationTime: expirationTime ?? null,
    replaceExistingBackend: replace === true,
  };
}
