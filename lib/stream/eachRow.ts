// Flattens a postgres.js cursor (which yields batches of rows) into single rows, for handlers that stream a query.
export async function* eachRow<T>(batches: AsyncIterable<readonly T[]>): AsyncGenerator<T> {
  for await (const rows of batches) yield* rows;
}
