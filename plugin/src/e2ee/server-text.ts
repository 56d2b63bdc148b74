/**
 * Text frames the server sends an encrypted session: only its refusals
 * matter (`{"type":"error","doc_id","message"}`, e.g. a workspace that is not
 * encrypted on the server, or a document limit); anything else is ignored.
 */

/** The message of a server error text, or null for any other text. */
export function serverErrorText(text: string): string | null {
  try {
    const v = JSON.parse(text) as { type?: unknown; message?: unknown } | null;
    return v !== null && typeof v === 'object' && v.type === 'error' && typeof v.message === 'string' ? v.message : null;
  } catch {
    return null;
  }
}
