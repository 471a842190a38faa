// Gathers an async iterable into an array, where one JSON body is needed (a batch, a stored idempotent answer).
export async function collect(items: AsyncIterable<unknown>): Promise<unknown[]> {
  const all: unknown[] = [];
  for await (const item of items) all.push(item);
  return all;
}
