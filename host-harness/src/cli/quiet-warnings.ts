/**
 * Node prints an ExperimentalWarning when its WASI module is loaded (the
 * plugin runtime uses it); on a command line that is noise on every run, so
 * that one warning is dropped. Imported first by the CLI entry, before any
 * module that loads the plugin runtime.
 */
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === 'string' ? warning : warning.message;
  const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
  if (type === 'ExperimentalWarning' && /WASI/.test(text)) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

export {};
