/**
 * State vector arithmetic for what the server is known to hold (serverSV):
 * the per-client maximum over every update seen on the server (pulled, or
 * appended and acknowledged). A device's edits of one client id reach the
 * server in order, so holding a client up to a clock means holding all of it
 * below; a restart then sends `Y.encodeStateAsUpdate(doc, serverSV)` only.
 */
import * as Y from 'yjs';

/** Per-client maximum of a state vector and the clocks an update reaches. */
export function raiseByUpdate(sv: Uint8Array, update: Uint8Array): Uint8Array {
  const known = Y.decodeStateVector(sv);
  // parseUpdateMeta's `to` counts updates that do not start at clock 0 too (encodeStateVectorFromUpdate does not).
  const seen = Y.parseUpdateMeta(update).to;
  let raised = false;
  for (const [client, clock] of seen) {
    if ((known.get(client) ?? 0) < clock) {
      known.set(client, clock);
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
