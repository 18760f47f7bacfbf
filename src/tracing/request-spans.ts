import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, SpanKind, SpanStatusCode, trace, ROOT_CONTEXT, type Tracer } from '@opentelemetry/api';
import type { RequestHandler } from 'express';

/**
 * A span per API request (SERVER), the parent of every Temporal call the request makes. Every request
 * starts a trace of its own: a `traceparent` a caller sends is not followed, since anyone may post to
 * the webhook receiver and could otherwise join an operator's traces, or pick their ids. Named after the
 * matched route, never the URL: paths carry instance ids and queries may carry codes or tokens.
 */
export function requestSpans(tracer: Tracer): RequestHandler {
  return (req, res, next) =>
    withRequestSpan(tracer, req, res, () => (req.route ? `${req.baseUrl}${String(req.route.path)}` : undefined), next);
}

/**
 * Runs `handle` under a new request span that ends when the answer is out, named after `route()` (read
 * then). For Express's requests and for those answered without it (the webhook receiver).
 */
export function withRequestSpan(
  tracer: Tracer,
  req: IncomingMessage,
  res: ServerResponse,
  route: () => string | undefined,
  handle: () => void,
): void {
  const method = req.method ?? 'GET';
  const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } }, ROOT_CONTEXT);
  res.once('close', () => {
    const matched = route();
    if (matched) {
      span.updateName(`${method} ${matched}`);
      span.setAttribute('http.route', matched);
    }
    span.setAttribute('http.response.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  });
  const active = trace.setSpan(ROOT_CONTEXT, span);
  // Body parsers go on from the request stream's events, which run in the socket's context, not
  // this one: bound, their listeners (and the handlers they call) run under the request's span.
  context.bind(active, req);
  context.bind(active, res);
  context.with(active, handle);
}
