/**
 * Double-dispatch check. An envelope-returning export both executes its
 * actions through host functions (`host_ws_request` send_binary/send_text,
 * `host_emit_event`) and returns the first-level actions as an envelope.
 * This module compares the two: every returned action must have been
 * dispatched, in the same order. Dispatched actions the envelope does not
 * list (follow-up actions, drained local updates) are allowed.
 *
 * Events are compared through the host-event mapping (an envelope carries
 * `{"type":"statusChanged",...}`, the host receives
 * `{"type":"SyncStatusChanged",...}`). DownloadSnapshot actions are run by the
 * guest itself, so they have no dispatched counterpart and are skipped.
 */
import { decodeEnvelope, type DecodedAction } from '../../common/src/wire/envelope';
import { hostEventFor, type SyncEvent } from '../../common/src/wire/events';

/** An action the guest executed through a host function during one call. */
export type DispatchedAction =
  | { kind: 'send_binary'; data: Uint8Array }
  | { kind: 'send_text'; text: string }
  | { kind: 'emit'; event: unknown; raw: string }
  | { kind: 'ws_control'; request: Record<string, unknown> };

/** Decodes envelope bytes into actions (throws on malformed input). */
export type EnvelopeDecoder = (bytes: Uint8Array) => DecodedAction[];

export interface EnvelopeCheck {
  ok: boolean;
  problems: string[];
  /** The decoded envelope, or null when it could not be decoded. */
  envelope: DecodedAction[] | null;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Structural equality of JSON values, ignoring key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  const ka = Object.keys(a as object).sort();
  const kb = Object.keys(b as object).sort();
  if (!jsonEqual(ka, kb)) return false;
  return ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function matches(action: DecodedAction, d: DispatchedAction): boolean {
  switch (action.type) {
    case 'SendBinary':
      return d.kind === 'send_binary' && bytesEqual(action.data, d.data);
    case 'SendText':
      return d.kind === 'send_text' && action.text === d.text;
    case 'EmitEvent': {
      if (d.kind !== 'emit') return false;
      let expected: unknown;
      try {
        expected = hostEventFor(JSON.parse(action.json) as SyncEvent);
      } catch {
        return false;
      }
      return jsonEqual(expected, d.event);
    }
    case 'DownloadSnapshot':
      return false;
  }
}

function describeAction(a: DecodedAction): string {
  switch (a.type) {
    case 'SendBinary':
      return `SendBinary(${a.data.length} bytes)`;
    case 'SendText':
      return `SendText(${JSON.stringify(a.text)})`;
    case 'EmitEvent':
      return `EmitEvent(${a.json})`;
    case 'DownloadSnapshot':
      return `DownloadSnapshot(${a.workspaceId})`;
  }
}

/**
 * Compares an export's returned envelope with the actions it dispatched.
 * An empty output counts as an empty envelope.
 */
export function compareEnvelopeWithDispatched(
  output: Uint8Array,
  dispatched: readonly DispatchedAction[],
  decode: EnvelopeDecoder = decodeEnvelope,
): EnvelopeCheck {
  let envelope: DecodedAction[];
  try {
    envelope = output.length === 0 ? [] : decode(output);
  } catch (e) {
    return { ok: false, problems: [`envelope does not decode: ${(e as Error).message}`], envelope: null };
  }
  const problems: string[] = [];
  const actions = dispatched.filter((d) => d.kind !== 'ws_control');
  let next = 0;
  envelope.forEach((action, i) => {
    if (action.type === 'DownloadSnapshot') return;
    let found = -1;
    for (let j = next; j < actions.length; j++) {
      if (matches(action, actions[j])) {
        found = j;
        break;
      }
    }
    if (found < 0) problems.push(`envelope action ${i} ${describeAction(action)} was not dispatched (in order) through the host`);
    else next = found + 1;
  });
  return { ok: problems.length === 0, problems, envelope };
}
