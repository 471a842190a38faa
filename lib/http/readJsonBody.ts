// Reads the request body as a JSON object: limit (413, counted after decoding gzip or deflate), content type and
// coding (415), strict UTF-8, JSON and Unicode text (400), nesting depth (400).
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable, Transform } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
import type { AppContext } from './AppState';
import { ApiError } from '../errors/ApiError';

export interface BodyLimits {
  limitBytes: number;
  maxDepth: number;
}

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;
// JSON is UTF-8 (RFC 8259); a body declared in another charset is refused rather than misread.
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
// Content codings a caller may compress its body with (node:zlib decodes them); any other is 415.
const DECODERS: Record<string, () => Transform> = { gzip: createGunzip, 'x-gzip': createGunzip, deflate: createInflate };

export async function readJsonBody(ctx: AppContext, { limitBytes, maxDepth }: BodyLimits): Promise<Record<string, unknown>> {
  const length = ctx.request.length; // Content-Length, when sent
  const hasBody = (length ?? 0) > 0 || ctx.get('transfer-encoding') !== '';
  if (!hasBody) return {};
  const type = ctx.get('content-type');
  const charset = CHARSET.exec(type)?.[1];
  if (!JSON_TYPE.test(type) || (charset !== undefined && !/^utf-?8$/i.test(charset))) throw new ApiError('unsupported_media_type');
  const coding = ctx.get('content-encoding').trim().toLowerCase();
  const decoder = coding === '' || coding === 'identity' ? undefined : DECODERS[coding];
  if (coding && coding !== 'identity' && !decoder) {
    throw new ApiError('unsupported_media_type', { message: 'The request body may be encoded with gzip or deflate only' });
  }
  if (length !== undefined && length > limitBytes) throw new ApiError('payload_too_large');
  let raw: Buffer;
  try {
    // Decoded, the limit holds for what the body expands to: a small bomb is cut off at limitBytes.
    raw = await getRawBody(decoder ? decoded(ctx.req, decoder()) : ctx.req, decoder ? { limit: limitBytes } : { length, limit: limitBytes });
  } catch (e) {
    const type = (e as { type?: string }).type;
    if (type === 'entity.too.large') throw new ApiError('payload_too_large');
    if (decoder && (e as { errno?: number }).errno !== undefined) throw new ApiError('invalid_json', { message: `The request body is not valid ${coding} data`, cause: e });
    throw new ApiError('invalid_json', { message: 'The request body could not be read completely', cause: e });
  }
  if (raw.length === 0) return {};
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new ApiError('invalid_json', { message: 'The request body is not valid UTF-8' });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError('invalid_json');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError('invalid_params', { message: 'The params must be a JSON object', details: [{ path: '', message: 'expected an object' }] });
  }
  checkValue(value, maxDepth);
  return value as Record<string, unknown>;
}

/**
 * The request piped through its decoder. A request cut off mid-body ends the decoder with its error; a decoder that
 * fails (bad data, or the limit reached) stops reading without destroying the request, whose rest is drained, so the
 * caller still gets its 400 or 413 on an intact connection.
 */
function decoded(req: IncomingMessage, decoder: Transform): Readable {
  req.on('error', (e) => decoder.destroy(e));
  decoder.on('error', () => {
    req.unpipe(decoder);
    req.resume();
  });
  return req.pipe(decoder);
}

/**
 * Walks the parsed value once, without recursion: refuses nesting deeper than `max`, and strings or keys that are
 * not Unicode text (a lone UTF-16 surrogate such as "\ud800" parses, but would reach the database as U+FFFD).
 */
function checkValue(root: object, max: number): void {
  const stack: Array<[object, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > max) throw new ApiError('invalid_json', { message: `The request body nests deeper than ${max} levels` });
    const array = Array.isArray(node);
    for (const key in node) {
      const child = (node as Record<string, unknown>)[key];
      if ((!array && !key.isWellFormed()) || (typeof child === 'string' && !child.isWellFormed())) {
        throw new ApiError('invalid_json', { message: 'The request body has a string that is not Unicode text (a lone UTF-16 surrogate)' });
      }
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
}
