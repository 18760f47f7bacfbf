import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HttpError } from '../errors';
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

/** Every error becomes the JSON shape of DESIGN.md; only unexpected ones are 500s, without detail. */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: BodyParserError, req, res, _next) => {
    let status = 500;
    let message = 'Internal error';
    let errors: { path: string; message: string }[] = [];
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
      errors = err.errors;
      res.set(err.headers);
    } else if (err.type === 'entity.parse.failed') {
      status = 400;
      message = `Invalid JSON in request body: ${err.message}`;
    } else if (err.type === 'entity.too.large') {
      status = 413;
      message = `Request body is larger than the ${err.limit}-byte limit for this route`;
    } else if ((err.type || err.expose) && typeof err.status === 'number' && err.status >= 400 && err.status < 500) {
      // Undecodable Content-Encoding (a bad gzip stream, say) arrives as zlib's error, untyped.
      status = err.status;
      message = err.type ? err.message : `Could not read the request body: ${err.message}`;
    }
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
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const line = { requestId: req.requestId, method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms) };
      // A route may call its successes routine (`res.locals.routine`: accepted webhooks, counted in the
      // metrics, thousands a second under a flood): those at debug, unless slow. Every refusal stays at info.
      if (res.locals.routine === true && res.statusCode < 400 && ms < SLOW_REQUEST_MS) log.debug(line, 'request');
      else log.info(line, 'request');
    });
    next();
  };
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
