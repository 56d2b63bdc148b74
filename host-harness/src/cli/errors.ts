/** A failure meant for the person at the terminal: the message says what to do next. */
export class ActionableError extends Error {
  override name = 'ActionableError';
}
