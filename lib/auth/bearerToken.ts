// The token of an `Authorization: Bearer <token>` header: one scheme word (any case), one space, token68 characters.
import { TOKEN68 } from './token68';

const BEARER = new RegExp(`^bearer (${TOKEN68.source.slice(1, -1)})$`, 'i');

export function bearerToken(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}
