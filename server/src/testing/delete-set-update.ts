/**
 * A Yjs v1 update without structs that deletes `count` single items of
 * `client`, at clocks 0, 2, 4, ... (ranges that never merge): the shape of a
 * hostile update with a huge delete set, for tests and the load benchmark.
 */
import * as encoding from 'lib0/encoding';

export function deleteSetUpdate(client: number, count: number): Uint8Array {
  const enc = encoding.createEncoder();
  encoding.writeVarUint(enc, 0); // no structs
  encoding.writeVarUint(enc, 1); // one client in the delete set
  encoding.writeVarUint(enc, client);
  encoding.writeVarUint(enc, count);
  for (let i = 0; i < count; i++) {
    encoding.writeVarUint(enc, 2 * i);
    encoding.writeVarUint(enc, 1);
  }
  return encoding.toUint8Array(enc);
}
