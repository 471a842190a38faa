// Answers what Node's HTTP parser rejects before koa sees it (slow headers or body, malformed HTTP) with a JSON error.
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ERRORS, type ErrorCode } from './errors';

// Node's own answer would be an empty 408/400 body; callers and nginx get the gateway's JSON error body instead.
function codeFor(error: { code?: string }): ErrorCode {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  return 'bad_request';
}

export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset or an already answered socket cannot take a response.
  if (error.code === 'ECONNRESET' || !socket.writable || (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  const code = codeFor(error);
  const { status, message } = ERRORS[code];
  const requestId = randomUUID();
  const body = JSON.stringify({ error: { code, message, requestId } });
  socket.end(
    `HTTP/1.1 ${status} ${code.replace(/_/g, ' ')}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
}
