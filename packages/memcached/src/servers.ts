import { MemcachedBackendError } from './errors.js';

/** One Memcached server: where it listens, and its SASL credentials when they are per server. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  readonly username: string | undefined;
  readonly password: string | undefined;
}

const DEFAULT_PORT = 11211;

function malformed(entry: string, why: string): MemcachedBackendError {
  return new MemcachedBackendError(
    'ERR_MEMCACHED_SERVERS',
    `The Memcached server "${redact(entry)}" ${why}. Give servers as 'host:port,host:port' (or an array of 'host:port'), ` +
      "optionally with 'user:password@' in front and IPv6 hosts in brackets ('[::1]:11211').",
  );
}

/** `entry` without its password, for messages. */
export function redact(entry: string): string {
  const at = entry.lastIndexOf('@');
  if (at < 0) return entry;
  const user = entry.slice(0, at).split(':')[0];
  return `${user}:***@${entry.slice(at + 1)}`;
}

/** Parses one `[user:password@]host[:port]`. */
function parseOne(raw: string): ServerAddress {
  const entry = raw.trim();
  if (entry === '') throw malformed(raw, 'is empty (a stray comma?)');
  if (/\s/.test(entry)) throw malformed(entry, 'contains whitespace');
  let username: string | undefined;
  let password: string | undefined;
  let address = entry;
  const at = entry.lastIndexOf('@');
  if (at >= 0) {
    const credentials = entry.slice(0, at);
    address = entry.slice(at + 1);
    const colon = credentials.indexOf(':');
    if (colon <= 0) throw malformed(entry, "has credentials that are not 'user:password'");
    username = decodeURIComponent(credentials.slice(0, colon));
    password = decodeURIComponent(credentials.slice(colon + 1));
  }
  let host: string;
  let portText: string | undefined;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    if (close < 0) throw malformed(entry, 'has an IPv6 address without its closing bracket');
    host = address.slice(1, close);
    const rest = address.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':'))
      throw malformed(entry, 'has text after its IPv6 address');
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    const parts = address.split(':');
    if (parts.length > 2)
      throw malformed(entry, 'has more than one ":" (put IPv6 addresses in brackets)');
    host = parts[0]!;
    portText = parts[1];
  }
  if (host === '') throw malformed(entry, 'names no host');
  if (/[/?#]/.test(host)) {
    throw malformed(entry, 'is a URL; give host:port without a scheme or path');
  }
  let port = DEFAULT_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw malformed(entry, `has the port "${portText}", not a number from 1 to 65535`);
    }
    port = Number(portText);
  }
  return { host, port, username, password };
}

/**
 * Parses `servers` as memjs takes them (`'host:port,host:port'`, each optionally with
 * `user:password@`), or an array of such entries (as Python dogpile.cache's `url` list).
 * Throws `ERR_MEMCACHED_SERVERS` for anything else.
 */
export function parseServers(servers: unknown): ServerAddress[] {
  let entries: string[];
  if (typeof servers === 'string') {
    entries = servers.split(',');
  } else if (Array.isArray(servers)) {
    entries = servers.map((entry) => {
      if (typeof entry !== 'string') {
        throw new MemcachedBackendError(
          'ERR_MEMCACHED_SERVERS',
          `Each of the Memcached servers must be a 'host:port' string; got ${entry === null ? 'null' : typeof entry}.`,
        );
      }
      return entry;
    });
  } else {
    throw new MemcachedBackendError(
      'ERR_MEMCACHED_SERVERS',
      `MemcachedBackend option servers must be a 'host:port,host:port' string or an array of 'host:port'; got ${servers === null ? 'null' : typeof servers}.`,
    );
  }
  if (entries.length === 0) {
    throw new MemcachedBackendError(
      'ERR_MEMCACHED_SERVERS',
      'MemcachedBackend option servers is empty; name at least one host:port.',
    );
  }
  return entries.map(parseOne);
}

/** `host:port` of an address, IPv6 in brackets. */
export function formatAddress(address: { host: string; port: number }): string {
  return address.host.includes(':')
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}
