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
