import { CommanderError, type Command } from 'commander';

/**
 * Exit codes of the `diaryx-sync` command (README, "Exit codes"). Each
 * failure a script may want to tell apart has its own.
 */
export const EXIT = {
  ok: 0,
  /** An unexpected failure (a bug): the message, and the stack with DIARYX_SYNC_DEBUG=1. */
  internal: 1,
  /** Bad usage or input: a missing or wrong option, a path that is not a folder, ... */
  usage: 2,
  /** The server refused the token, or the workspace belongs to another user. */
  access: 3,
  /** `sync --once`: the server could not be reached before the timeout. */
  unreachable: 4,
  /** The folder (or the data folder) cannot be read or written. */
  folder: 5,
  /** `sync --once`: the folder and the server still differ, or sync reported an error. */
  notInSync: 6,
} as const;

/** A failure meant for the person at the terminal: the message says what to do next. */
export class ActionableError extends Error {
  override name = 'ActionableError';
  constructor(
    message: string,
    /** The process exit code (EXIT.usage unless said otherwise). */
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}

/** What a file system error means, in words (`permission denied`, ...), or null when it is not one. */
export function describeFsError(e: unknown, withPath = true): string | null {
  const err = e as NodeJS.ErrnoException;
  const where = withPath && err.path ? `${err.path}: ` : '';
  switch (err?.code) {
    case 'EACCES':
    case 'EPERM':
      return `${where}permission denied`;
    case 'EROFS':
      return `${where}read-only file system`;
    case 'ENOSPC':
      return `${where}no space left on the device`;
    case 'ENOTDIR':
      return `${where}a path component is a file, not a folder`;
    case 'EISDIR':
      return `${where}is a folder, not a file`;
    case 'ENOENT':
      return `${where}no such file or folder`;
    case 'EEXIST':
      return `${where}already exists`;
    default:
      return null;
  }
}

/**
 * Parses and runs a commander program; resolves to the exit code: 0,
 * EXIT.usage for what the parser refuses, an ActionableError's code (message only), EXIT.folder
 * for a file system error, EXIT.internal otherwise. Every failure is one line;
 * DIARYX_SYNC_DEBUG=1 adds the stack of unexpected ones.
 */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    // The parser's failures (unknown or missing options, bad arguments) are bad usage; help and version exit 0.
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e instanceof ActionableError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e.exitCode;
    }
    const fsError = describeFsError(e);
    if (fsError !== null) {
      process.stderr.write(`error: ${fsError}\n`);
      return EXIT.folder;
    }
    const debug = process.env.DIARYX_SYNC_DEBUG === '1';
    const text = debug ? ((e as Error).stack ?? String(e)) : `${(e as Error).message ?? String(e)} (unexpected; DIARYX_SYNC_DEBUG=1 shows where)`;
    process.stderr.write(`error: ${text}\n`);
    return EXIT.internal;
  }
}
