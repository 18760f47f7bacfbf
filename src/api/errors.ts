import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HttpError, type FieldError } from '../errors';
import type { Logger } from '../logger';

export const requestIds: RequestHandler = (req, res, next) => {
  req.requestId = randomUUID();
  res.setHeader('x-request-id', req.requestId);
  next();
};

/** body-parser's errors (http-errors): a 4xx carries `expose`, and `type` when body-parser named it. */
interface BodyParserError extends Error {
  type?: string;
  status?: number;
  expose?: boolean;
  limit?: number;
}

/** What an error is answered with: the JSON shape of DESIGN.md; only unexpected errors are 500s, without detail. */
export function errorAnswer(err: BodyParserError): {
  status: number;
  message: string;
  errors: FieldError[];
  headers: Record<string, string>;
} {
  if (err instanceof HttpError) return { status: err.status, message: err.message, errors: err.errors, headers: err.headers };
  const answer = (status: number, message: string) => ({ status, message, errors: [], headers: {} });
  if (err.type === 'entity.parse.failed') return answer(400, `Invalid JSON in request body: ${err.message}`);
  if (err.type === 'entity.too.large') return answer(413, `Request body is larger than the ${err.limit}-byte limit for this route`);
  if ((err.type || err.expose) && typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
    // Undecodable Content-Encoding (a bad gzip stream, say) arrives as zlib's error, untyped.
    return answer(err.status, err.type ? err.message : `Could not read the request body: ${err.message}`);
  }
  return answer(500, 'Internal error');
}

/** Every error becomes the JSON shape of DESIGN.md (errorAnswer); a 500 is logged. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: BodyParserError, req, res, _next) => {
    const { status, message, errors, headers } = errorAnswer(err);
    res.set(headers);
    if (status >= 500) log.error({ err, requestId: req.requestId, method: req.method, path: req.path }, 'request failed');
    res.status(status).json({ message, requestId: req.requestId, errors });
  };
}

export const notFoundRoute: RequestHandler = (req, res) => {
  res.status(404).json({ message: `No route for ${req.method} ${req.path}`, requestId: req.requestId, errors: [] });
};

/** A routine answer slower than this still gets its access log line at info. */
export const SLOW_REQUEST_MS = 1_000;

export function accessLog(log: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () =>
      logRequest(log, started, { requestId: req.requestId, method: req.method, path: req.path, status: res.statusCode }, false),
    );
    next();
  };
}

/**
 * The access log line of one answered request. The webhook receiver calls its successes routine
 * (accepted webhooks, counted in the metrics, thousands a second under a flood): those at debug,
 * unless slow. Every refusal, and every other route's answer, at info.
 */
export function logRequest(
  log: Logger,
  startedNs: bigint,
  line: { requestId: string | undefined; method: string | undefined; path: string; status: number },
  routine: boolean,
): void {
  const ms = Number(process.hrtime.bigint() - startedNs) / 1e6;
  const entry = { ...line, ms: Math.round(ms) };
  if (routine && line.status < 400 && ms < SLOW_REQUEST_MS) log.debug(entry, 'request');
  else log.info(entry, 'request');
}

/**
 * Requests Node's HTTP parser refuses before Express sees them (headers over its size limit, a
 * malformed request line) get the API's JSON error shape too, instead of a bare status line.
 */
export function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const message = status === 431 ? 'Request headers are too large' : status === 408 ? 'Request timed out' : 'Malformed HTTP request';
    const body = JSON.stringify({ message, requestId: randomUUID(), errors: [] });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}
