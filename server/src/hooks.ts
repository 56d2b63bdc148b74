/**
 * Lifecycle hooks of the sync core. An extension implements any subset of
 * `Extension`; the core runs each hook of every extension in order, one after
 * another, each with a single payload object (so fields can be added without
 * breaking extensions). A rejected hook stops the chain; for `onAuthenticate`
 * that means access denied.
 */
import type * as Y from 'yjs';

/** One party attached to documents: a WebSocket connection, as seen by the core. */
export interface DocumentClient {
  /** Short id for logs (`c12`). */
  readonly id: string;
  /** Sends one binary frame (already framed with its doc id). */
  sendBinary(frame: Uint8Array): void;
  /** Sends one text frame. */
  sendText(text: string): void;
  /** Closes the transport; the client then leaves every document. */
  close(code: number, reason: string): void;
}

/** Where a change came from: a client, or a named server-side source (`snapshot-import`). */
export type ChangeOrigin = DocumentClient | string;

export interface AuthenticatePayload {
  docId: string;
  workspaceId: string;
  /** The bearer token of the connection, or null. Never log it. */
  token: string | null;
  client: DocumentClient;
}

export interface DocumentPayload {
  docId: string;
  document: Y.Doc;
}

export interface ChangePayload {
  docId: string;
  document: Y.Doc;
  /** The update as it changed the document (already stored). */
  update: Uint8Array;
  origin: ChangeOrigin;
}

export interface ClientPayload {
  docId: string;
  client: DocumentClient;
}

export interface UnloadPayload {
  docId: string;
}

/** Hooks by lifecycle phase; each is optional. */
export interface Extension {
  /** Before a client first uses a doc; reject (AccessDeniedError) to refuse. */
  onAuthenticate?(payload: AuthenticatePayload): Promise<void> | void;
  /** After a document was loaded from storage and before anyone sees it. */
  afterLoadDocument?(payload: DocumentPayload): Promise<void> | void;
  /** After a client joined a document. */
  afterJoin?(payload: ClientPayload): Promise<void> | void;
  /** After an update changed a document and was stored, before it is relayed. */
  onChange?(payload: ChangePayload): Promise<void> | void;
  /** After a client left a document. */
  afterLeave?(payload: ClientPayload): Promise<void> | void;
  /** After a document was unloaded from memory. */
  afterUnloadDocument?(payload: UnloadPayload): Promise<void> | void;
}

export type HookName = keyof Extension;
export type HookPayloadByName = { [K in HookName]: Parameters<NonNullable<Extension[K]>>[0] };

/** Runs one hook of every extension in order; the first rejection propagates. */
export async function runHooks<K extends HookName>(extensions: readonly Extension[], name: K, payload: HookPayloadByName[K]): Promise<void> {
  for (const ext of extensions) {
    const hook = ext[name] as ((p: HookPayloadByName[K]) => Promise<void> | void) | undefined;
    if (hook) await hook.call(ext, payload);
  }
}
