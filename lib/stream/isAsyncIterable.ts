// Whether a handler's value is an async iterable (a postgres.js cursor, an async generator): such values are streamed.
export function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return value != null && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}
