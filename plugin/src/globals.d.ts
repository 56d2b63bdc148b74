// Globals the runtime prelude provides beyond the @extism/js-pdk declarations.
declare const crypto: { getRandomValues<T extends Uint8Array>(array: T): T };
