// Answers what Node's HTTP parser rejects before koa sees it (slow headers or body, malformed HTTP) with a JSON error,
// and writes its access line and records its metrics like any other request's.
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ApiError, type ErrorCode } from '../errors/ApiError';
import { noteEndedWith } from './requestFinished';
import { BatchedResponse } from './BatchedResponse';
import type { Metrics } from '../metrics/createMetrics';
import { writeAccessLine } from '../log/writeAccessLine';
import { gatewayPathLabel } from './gatewayPaths';

// Node's own answer would be an empty 408/400 body; callers and nginx get the gateway's JSON error body instead.
function codeFor(error: { code?: string }): ErrorCode {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  return 'bad_request';
}

export function answerClientError(log: Logger, metrics: Metrics) {
  return (error: Error & { code?: string }, socket: Socket): void => {
    // The request koa is still reading, if any (a body that never came whole): its id and its access line are kept.
    const current = (socket as { _httpMessage?: ServerResponse })._httpMessage;
    // Only a timeout belongs to the request being read; a parse error on a kept-alive socket is a new request's.
    const inFlight = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? current : undefined;
    // An answer ended but held for its turn's burst is written first: it was answered before this error came.
    if (current instanceof BatchedResponse) current.endNow();
    // A reset or an already answered socket cannot take a response.
    if (error.code === 'ECONNRESET' || !socket.writable || current?.headersSent) {
      socket.destroy();
      return;
    }
    const apiError = new ApiError(codeFor(error), { cause: error });
    const requestId = String(inFlight?.getHeader('x-request-id') ?? randomUUID());
    const body = JSON.stringify({ error: { code: apiError.code, message: apiError.message, requestId } });
    socket.end(
      `HTTP/1.1 ${apiError.status} ${apiError.code.replace(/_/g, ' ')}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
    if (inFlight) noteEndedWith(inFlight, apiError); // koa's access line, written on close, tells it
    else {
      // Otherwise the request line may never have arrived: method and path are unknown.
      writeAccessLine(log, { requestId, method: '-', path: '-', status: apiError.status, durationNs: 0, error: apiError });
      metrics.recordRequest(gatewayPathLabel('-'), 'anonymous', apiError.status, 0);
    }
  };
}
