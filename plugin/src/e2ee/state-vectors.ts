/**
 * State vector arithmetic for what the server is known to hold (serverSV):
 * per client, the clock up to which every struct was seen on the server
 * (pulled, or appended and acknowledged). An update raises a client only
 * when it starts at or below the clock held: one that starts above it (an
 * earlier Append of the same client was lost, or is acknowledged later)
 * leaves a hole the server may not have, so it does not count. Too low a
 * clock only means resending something the server has; too high a clock
 * would lose the hole for good, as a restart sends
 * `Y.encodeStateAsUpdate(doc, serverSV)` only.
 */
import * as Y from 'yjs';

/** The state vector of an empty doc (no client). */
export const EMPTY_SV = Uint8Array.of(0);

/** `sv` raised by the clocks of an update that continue it (see above). */
export function raiseByUpdate(sv: Uint8Array, update: Uint8Array): Uint8Array {
  const known = Y.decodeStateVector(sv);
  let raised = false;
  // Structs come per client in clock order; a merged update (a catch-up of a doc that waited for
  // structs, a snapshot) marks its holes with Skip structs, which count as not held.
  for (const struct of Y.decodeUpdate(update).structs) {
    if (struct instanceof Y.Skip) continue;
    const held = known.get(struct.id.client) ?? 0;
    const end = struct.id.clock + struct.length;
    if (struct.id.clock <= held && end > held) {
      known.set(struct.id.client, end);
      raised = true;
    }
  }
  return raised ? Y.encodeStateVector(known) : sv;
}

/** True when `doc` holds a clock beyond `sv` (structs the server was never shown). */
export function beyond(docSV: Uint8Array, sv: Uint8Array): boolean {
  const known = Y.decodeStateVector(sv);
  for (const [client, clock] of Y.decodeStateVector(docSV)) if ((known.get(client) ?? 0) < clock) return true;
  return false;
}
