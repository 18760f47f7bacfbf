import type { ServerResponse } from 'node:http';
import helmet from 'helmet';

/** The security headers of every answer: Express's answers get them from this middleware. */
export const securityHeaders = helmet();

/**
 * The headers `securityHeaders` puts on an answer, read once from it, for the answers made without
 * Express (the webhook receiver): the same headers, from the same source.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = (() => {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let done = false;
  securityHeaders({} as never, res as never, () => void (done = true));
  // helmet answers synchronously today; should it stop, answers would go out without its headers.
  if (!done || Object.keys(headers).length === 0) throw new Error('helmet() did not set its headers synchronously');
  return Object.freeze(headers);
})();

/** A JSON answer as the API's others go out (res.json's content type), with the security headers and no-store. */
export function answerJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  answer(res, status, 'application/json; charset=utf-8', JSON.stringify(body), headers);
}

/** A plain-text answer, with the same headers. */
export function answerText(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  answer(res, status, 'text/plain; charset=utf-8', text, headers);
}

function answer(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string>): void {
  // An answer already on its way cannot be replaced: the connection is closed instead of a second one.
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  res.setHeader('cache-control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('content-type', contentType);
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
