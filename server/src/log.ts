/**
 * Server logging: one line per event on stderr (`<time> <level> <message> <json fields>`).
 * Never pass a token or a URL with its query string to the logger: the callers
 * log request paths only, and `redact` strips anything that looks like a token
 * field as a second line of defence.
 */

/** Log levels, lowest first; `silent` logs nothing. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Structured context attached to a log line. */
export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** What the server logs through. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const SECRET_FIELD = /token|authorization|password|secret/i;

/** Drops fields whose name suggests a secret. */
export function redact(fields: LogFields | undefined): LogFields | undefined {
  if (!fields) return undefined;
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = SECRET_FIELD.test(k) ? '[redacted]' : v;
  }
  return out;
}

/** A logger writing lines at or above `level` to `write` (stderr by default). */
export function createLogger(level: LogLevel, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const emit = (lvl: Exclude<LogLevel, 'silent'>) => (message: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(lvl) < threshold) return;
    const clean = redact(fields);
    const extra = clean && Object.keys(clean).length > 0 ? ` ${JSON.stringify(clean)}` : '';
    write(`${new Date().toISOString()} ${lvl} ${message}${extra}\n`);
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger('silent');
