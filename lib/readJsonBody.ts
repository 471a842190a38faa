// Reads the request body as a JSON object: limit (413), content type (415), strict UTF-8 and JSON (400), depth (400).
import getRawBody from 'raw-body';
import type { AppContext } from './AppState';
import { ApiError } from './errors';

export interface BodyLimits {
  limitBytes: number;
  maxDepth: number;
}

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;|$)/i;
// JSON is UTF-8 (RFC 8259); a body declared in another charset is refused rather than misread.
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export async function readJsonBody(ctx: AppContext, { limitBytes, maxDepth }: BodyLimits): Promise<Record<string, unknown>> {
  const length = ctx.request.length; // Content-Length, when sent
  const hasBody = (length ?? 0) > 0 || ctx.get('transfer-encoding') !== '';
  if (!hasBody) return {};
  const type = ctx.get('content-type');
  const charset = CHARSET.exec(type)?.[1];
  if (!JSON_TYPE.test(type) || (charset !== undefined && !/^utf-?8$/i.test(charset))) throw new ApiError('unsupported_media_type');
  if (length !== undefined && length > limitBytes) throw new ApiError('payload_too_large');
  let raw: Buffer;
  try {
    raw = await getRawBody(ctx.req, { length, limit: limitBytes });
  } catch (e) {
    const type = (e as { type?: string }).type;
    if (type === 'entity.too.large') throw new ApiError('payload_too_large');
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
  if (depthOf(value, maxDepth) > maxDepth) {
    throw new ApiError('invalid_json', { message: `The request body nests deeper than ${maxDepth} levels` });
  }
  return value as Record<string, unknown>;
}

/** Nesting depth of a parsed JSON value, walked without recursion; stops counting once past `max`. */
function depthOf(root: object, max: number): number {
  let deepest = 1;
  const stack: Array<[object, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > deepest) deepest = depth;
    if (deepest > max) return deepest;
    for (const child of Object.values(node)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return deepest;
}
