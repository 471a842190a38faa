// Reads an NDJSON response body as an async iterable of values, one per line, without holding the whole body.
export async function* readNdjson(body: ReadableStream<Uint8Array> | null): AsyncGenerator<unknown> {
  if (!body) return;
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffered += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      if (line) yield JSON.parse(line);
    }
  }
  buffered += decoder.decode();
  if (buffered.trim()) yield JSON.parse(buffered);
}
