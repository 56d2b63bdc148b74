import { CommanderError, type Command } from 'commander';

/** A failure meant for the person at the terminal: the message says what to do next. */
export class ActionableError extends Error {
  override name = 'ActionableError';
}

/**
 * Parses and runs a commander program; resolves to the exit code: 0, the
 * parser's own code, 2 for an ActionableError (message only), 1 otherwise (with the stack).
 */
export async function runProgram(program: Command, argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof ActionableError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
