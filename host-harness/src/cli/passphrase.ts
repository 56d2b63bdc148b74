/**
 * Where `sync` takes the passphrase of an encrypted workspace from, in this
 * order: `--passphrase-file F` (its first line: one trailing newline is
 * dropped, nothing else), `$DIARYX_SYNC_PASSPHRASE`, a prompt without echo
 * when stdin and stderr are a terminal; otherwise a usage error. A passphrase
 * is never printed, logged or put in an error message.
 */
import fs from 'node:fs';
import { ActionableError, describeFsError } from '../../../common/src/cli/errors';

export const PASSPHRASE_ENV = 'DIARYX_SYNC_PASSPHRASE';

export interface PassphraseSource {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Ask on the terminal (default: when stdin and stderr are terminals). */
  interactive?: boolean;
}

/**
 * The passphrase for `purpose` (said in the prompt and the errors);
 * `confirm` asks twice on a terminal (a new passphrase mistyped once would
 * lock the workspace for good).
 */
export async function readPassphrase(source: PassphraseSource, purpose: string, confirm: boolean): Promise<string> {
  if (source.file !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(source.file, 'utf8');
    } catch (e) {
      throw new ActionableError(`cannot read --passphrase-file ${source.file}: ${describeFsError(e) ?? (e as Error).message}`);
    }
    const line = text.replace(/\r?\n$/, '');
    if (line === '') throw new ActionableError(`--passphrase-file ${source.file} is empty`);
    if (/[\r\n]/.test(line)) throw new ActionableError(`--passphrase-file ${source.file} holds more than one line: it must hold the passphrase alone`);
    return line;
  }
  const env = (source.env ?? process.env)[PASSPHRASE_ENV];
  if (env !== undefined && env !== '') return env;
  const interactive = source.interactive ?? (process.stdin.isTTY === true && process.stderr.isTTY === true);
  if (!interactive) {
    throw new ActionableError(`${purpose} needs the passphrase: pass --passphrase-file FILE or set ${PASSPHRASE_ENV} (or run on a terminal to be asked)`);
  }
  const first = await prompt(`Passphrase (${purpose}): `);
  if (first === '') throw new ActionableError('the passphrase is empty');
  if (confirm && (await prompt('Passphrase again: ')) !== first) throw new ActionableError('the two passphrases differ: nothing was changed');
  return first;
}

/** Reads one line from the terminal without echo (Ctrl-C or Ctrl-D ends the program with a usage error). */
function prompt(question: string): Promise<string> {
  const stdin = process.stdin;
  // Echo goes off before the question shows: what is typed as soon as it shows is never echoed.
  stdin.setRawMode(true);
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (error: ActionableError | null) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003' || ch === '\u0004') return done(new ActionableError('no passphrase given'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.resume();
    stdin.on('data', onData);
  });
}
