/**
 * Error classes and WebSocket close codes of the sync server. Every error has
 * a `name` and the context needed to log it (doc id, user, workspace). Errors
 * are failures; control flow never uses them.
 */

/** WebSocket close codes the server sends, each with the reason it stands for. */
export const CloseCode = {
  /** The server is shutting down. */
  GoingAway: 1001,
  /** A socket without a valid token sent a frame (it can open nothing). */
  PolicyViolation: 1008,
  /** A frame was larger than `maxMessageBytes` (sent by `ws` itself). */
  MessageTooBig: 1009,
  /** The server could not persist an update; reconnecting resynchronises. */
  InternalError: 1011,
  /** The connection limit was reached while the handshake ran. */
  TryAgainLater: 1013,
  /** The peer did not answer pings. */
  Timeout: 4000,
  /** The socket's token was revoked (or its user removed from the allow list). */
  TokenRevoked: 4001,
  /** The peer reads too slowly: its send buffer exceeded the limit. */
  SlowConsumer: 4008,
} as const;

/** A storage adapter failed, or was used after `close()`. */
export class StorageError extends Error {
  override name = 'StorageError';
  constructor(
    message: string,
    readonly docId?: string,
    /** The error of the underlying driver, if any. */
    readonly underlying?: unknown,
  ) {
    super(message);
  }
}

/** Loading a document failed; the document stays closed and is never written over. */
export class DocumentLoadError extends Error {
  override name = 'DocumentLoadError';
  constructor(
    readonly docId: string,
    /** What failed: the storage read or applying the stored bytes. */
    readonly underlying: unknown,
  ) {
    super(`Failed to load document ${docId}: ${describeError(underlying)}`);
  }
}

/** An incoming Yjs update or sync message could not be applied; it was neither stored nor relayed. */
export class InvalidUpdateError extends Error {
  override name = 'InvalidUpdateError';
  /** What Yjs integrated before it failed (normally nothing); the document now holds it. */
  partialUpdates: Uint8Array[] = [];
  constructor(
    readonly docId: string,
    readonly messageType: string,
    /** The Yjs decoding or integration error. */
    readonly underlying: unknown,
  ) {
    super(`Rejected ${messageType} for ${docId}: ${describeError(underlying)}`);
  }
}

/** A caller may not use a workspace (no or bad token, not the owner, not on the allow list). */
export class AccessDeniedError extends Error {
  override name = 'AccessDeniedError';
  constructor(
    readonly reason: 'no-token' | 'invalid-token' | 'not-allowed' | 'not-owner' | 'no-workspace',
    readonly workspaceId?: string,
    readonly user?: string,
  ) {
    super(`Access denied (${reason})${workspaceId !== undefined ? ` to workspace ${workspaceId}` : ''}`);
  }
}

/**
 * A workspace id was refused for a reason the caller should be told (quota
 * reached, or too close to an existing id); the message says which.
 */
export class WorkspaceRefusedError extends Error {
  override name = 'WorkspaceRefusedError';
  constructor(
    message: string,
    readonly workspaceId: string,
    readonly user: string,
  ) {
    super(message);
  }
}

/** A configured limit was reached; the message names the limit and its value. */
export class LimitError extends Error {
  override name = 'LimitError';
}

/** A request argument is invalid (bad user name, workspace name, zip entry...). */
export class ValidationError extends Error {
  override name = 'ValidationError';
}

/** A workspace with that name already exists for the user. */
export class WorkspaceExistsError extends Error {
  override name = 'WorkspaceExistsError';
  constructor(
    readonly user: string,
    readonly workspaceName: string,
  ) {
    super(`Workspace "${workspaceName}" already exists`);
  }
}

/** The one-line description of an unknown thrown value, for logs. */
export function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}
