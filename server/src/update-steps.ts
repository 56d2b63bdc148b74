/**
 * Large delete sets, applied in steps.
 *
 * Applying a Yjs update costs time in proportion to its delete set: one
 * update of a few MB can name a million deleted ranges, and applying it in
 * one go holds the event loop for many seconds (every socket of the server
 * waits). Ranges naming items that neither the document nor the update has
 * are worse: Yjs keeps them pending and retries all of them on every later
 * update of the document.
 *
 * So an update whose delete set is large is cut into its structs (with an
 * empty delete set) and delete-set-only updates of at most `rangesPerStep`
 * ranges each, which the sync core applies one after another with a turn for
 * the event loop in between. The result is the same document: a delete set
 * applies range by range, and each range only marks items deleted. An update
 * naming more than `maxUnknownRanges` ranges of unknown items is refused
 * before anything is applied.
 *
 * The update is read once without building Yjs structs (scanUpdate), so even
 * the check costs little; it reads every field Yjs reads, so bytes it cannot
 * read are refused as Yjs would refuse them.
 */
import * as binary from 'lib0/binary';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';

/** What scanUpdate learns about a v1 update. */
export interface UpdateScan {
  /** Where the delete set starts (the structs are the bytes before it). */
  dsOffset: number;
  /** Deleted ranges in the delete set. */
  rangeCount: number;
  /** Deleted ranges naming items neither the document (`stateVector`) nor the update holds. */
  unknownRanges: number;
}

/** Length (in clock units) of an item's content, read past; throws on a content type Yjs does not know. */
function skipContent(decoder: Y.UpdateDecoderV1, info: number): number {
  switch (info & binary.BITS5) {
    case 1: // Deleted
      return decoder.readLen();
    case 2: {
      // JSON
      const len = decoder.readLen();
      for (let i = 0; i < len; i++) decoder.readString();
      return len;
    }
    case 3: // Binary
      decoder.readBuf();
      return 1;
    case 4: // String
      return decoder.readString().length;
    case 5: // Embed
      decoder.readJSON();
      return 1;
    case 6: // Format
      decoder.readKey();
      decoder.readJSON();
      return 1;
    case 7: {
      // Type: YXmlElement (3) and YXmlHook (5) carry a node name
      const ref = decoder.readTypeRef();
      if (ref === 3 || ref === 5) decoder.readKey();
      else if (ref > 6) throw new Error(`unknown type ref ${ref}`);
      return 1;
    }
    case 8: {
      // Any
      const len = decoder.readLen();
      for (let i = 0; i < len; i++) decoder.readAny();
      return len;
    }
    case 9: // Doc
      decoder.readString();
      decoder.readAny();
      return 1;
    default:
      throw new Error(`unknown content type ${info & binary.BITS5}`);
  }
}

/**
 * Reads a v1 update the way Yjs does, without building its structs or its
 * delete set; throws on bytes Yjs could not read. `stateVector` is what the
 * document holds (for `unknownRanges`).
 */
export function scanUpdate(update: Uint8Array, stateVector: Map<number, number>): UpdateScan {
  const decoder = new Y.UpdateDecoderV1(decoding.createDecoder(update));
  const rest = decoder.restDecoder;
  const structEnds = new Map<number, number>();
  const groups = decoding.readVarUint(rest);
  for (let g = 0; g < groups; g++) {
    const count = decoding.readVarUint(rest);
    const client = decoder.readClient();
    let clock = decoding.readVarUint(rest);
    for (let i = 0; i < count; i++) {
      const info = decoder.readInfo();
      const kind = info & binary.BITS5;
      if (kind === 0) {
        clock += decoder.readLen(); // GC
      } else if (kind === 10) {
        clock += decoding.readVarUint(rest); // Skip: nothing known
        continue;
      } else {
        if ((info & binary.BIT8) === binary.BIT8) decoder.readLeftID();
        if ((info & binary.BIT7) === binary.BIT7) decoder.readRightID();
        if ((info & (binary.BIT7 | binary.BIT8)) === 0) {
          if (decoder.readParentInfo()) decoder.readString();
          else decoder.readLeftID();
          if ((info & binary.BIT6) === binary.BIT6) decoder.readString();
        }
        clock += skipContent(decoder, info);
      }
      if (clock > (structEnds.get(client) ?? 0)) structEnds.set(client, clock);
    }
  }
  const dsOffset = rest.pos;
  let rangeCount = 0;
  let unknownRanges = 0;
  const clients = decoding.readVarUint(rest);
  for (let c = 0; c < clients; c++) {
    const client = decoding.readVarUint(rest);
    const n = decoding.readVarUint(rest);
    const end = Math.max(stateVector.get(client) ?? 0, structEnds.get(client) ?? 0);
    for (let i = 0; i < n; i++) {
      const clock = decoding.readVarUint(rest);
      if (clock + decoding.readVarUint(rest) > end) unknownRanges++;
    }
    rangeCount += n;
  }
  return { dsOffset, rangeCount, unknownRanges };
}

export interface UpdatePlan {
  /** Updates to apply in order (the update itself when it needs no steps). */
  steps: Uint8Array[];
  /** Deleted ranges naming items neither the document nor the update holds. */
  unknownRanges: number;
}

/**
 * Cuts `update` into its structs (with an empty delete set) and updates of
 * at most `rangesPerStep` deleted ranges each: the same document once all
 * are applied. The ranges are copied as bytes, never decoded into objects.
 */
export function updateSteps(update: Uint8Array, scan: UpdateScan, rangesPerStep: number): Uint8Array[] {
  if (scan.rangeCount <= rangesPerStep) return [update];
  const structs = encoding.createEncoder();
  encoding.writeUint8Array(structs, update.subarray(0, scan.dsOffset));
  encoding.writeVarUint(structs, 0); // an empty delete set
  const steps: Uint8Array[] = [encoding.toUint8Array(structs)];

  let body = encoding.createEncoder();
  let clientsInStep = 0;
  let rangesInStep = 0;
  const flush = () => {
    const step = encoding.createEncoder();
    encoding.writeVarUint(step, 0); // no structs
    encoding.writeVarUint(step, clientsInStep);
    encoding.writeUint8Array(step, encoding.toUint8Array(body));
    steps.push(encoding.toUint8Array(step));
    body = encoding.createEncoder();
    clientsInStep = 0;
    rangesInStep = 0;
  };
  const rest = decoding.createDecoder(update);
  rest.pos = scan.dsOffset;
  const clients = decoding.readVarUint(rest);
  for (let c = 0; c < clients; c++) {
    const client = decoding.readVarUint(rest);
    let left = decoding.readVarUint(rest);
    while (left > 0) {
      const take = Math.min(left, rangesPerStep - rangesInStep);
      const from = rest.pos;
      for (let i = 0; i < take; i++) {
        decoding.readVarUint(rest);
        decoding.readVarUint(rest);
      }
      encoding.writeVarUint(body, client);
      encoding.writeVarUint(body, take);
      encoding.writeUint8Array(body, update.subarray(from, rest.pos));
      clientsInStep++;
      rangesInStep += take;
      left -= take;
      if (rangesInStep === rangesPerStep) flush();
    }
  }
  if (rangesInStep > 0) flush();
  return steps;
}
