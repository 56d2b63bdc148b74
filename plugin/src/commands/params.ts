/**
 * Reading `handle_command` parameters with the Rust plugin's error strings:
 * `Missing parameter: <key>` for a missing string, and binary parameters as a
 * base64 string or a JSON array of byte numbers (`Expected base64 string or
 * byte array`, `Invalid byte in array`, `Invalid base64: <e>`).
 */
import { decodeBase64, encodeBase64 } from '../../../common/src/base64';

/** A command failed; `message` is the response's `error` text. */
export class CommandError extends Error {
  override name = 'CommandError';
}

export type Params = Record<string, unknown>;

/**
 * Command params as an object; absent or null params are {}. Anything else
 * (a number, a string, an array) is refused: taken as "no parameters" it
 * would run a command with defaults the caller never asked for.
 */
export function asParams(value: unknown): Params {
  if (value === undefined || value === null) return {};
  if (typeof value === 'object' && !Array.isArray(value)) return value as Params;
  throw new CommandError(`Invalid parameters: expected a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`);
}

/** An optional parameter: absent or null is null; present with another type is an error, not ignored. */
function optional<T>(params: Params, key: string, type: string, ok: (v: unknown) => v is T): T | null {
  const v = params[key];
  if (v === undefined || v === null) return null;
  if (!ok(v)) throw new CommandError(`Invalid parameter ${key}: expected ${type}`);
  return v;
}

export function optionalString(params: Params, key: string): string | null {
  return optional(params, key, 'a string', (v): v is string => typeof v === 'string');
}

export function optionalBool(params: Params, key: string): boolean | null {
  return optional(params, key, 'a boolean', (v): v is boolean => typeof v === 'boolean');
}

export function optionalNumber(params: Params, key: string): number | null {
  return optional(params, key, 'a number', (v): v is number => typeof v === 'number' && Number.isFinite(v));
}

/** A required string; a missing one or one of another type is the Rust plugin's `Missing parameter: <key>`. */
export function requireString(params: Params, key: string): string {
  const v = params[key];
  if (typeof v !== 'string') throw new CommandError(`Missing parameter: ${key}`);
  return v;
}

export function requireInteger(params: Params, key: string): number {
  const v = params[key];
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  throw new CommandError(`Missing parameter: ${key}`);
}

/** Bytes from a base64 string or an array of numbers 0..255. */
export function requireBytes(params: Params, key: string): Uint8Array {
  const v = params[key];
  if (v === undefined || v === null) throw new CommandError(`Missing parameter: ${key}`);
  if (typeof v === 'string') {
    try {
      return decodeBase64(v);
    } catch (e) {
      throw new CommandError(`Invalid base64: ${(e as Error).message}`);
    }
  }
  if (Array.isArray(v)) {
    const out = new Uint8Array(v.length);
    v.forEach((b, i) => {
      if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) throw new CommandError('Invalid byte in array');
      out[i] = b;
    });
    return out;
  }
  throw new CommandError('Expected base64 string or byte array');
}

/** `{data: <base64>}`, the shape of every binary command result. */
export function dataResult(bytes: Uint8Array): { data: string } {
  return { data: encodeBase64(bytes) };
}
