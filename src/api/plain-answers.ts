import type { ServerResponse } from 'node:http';
import helmet from 'helmet';

/**
 * The headers helmet() puts on every Express answer, read once from helmet itself, for the answers
 * made without Express (the webhook receiver): the same headers, from the same source.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = (() => {
  const headers: Record<string, string> = {};
  const res = {
    setHeader: (name: string, value: string) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let done = false;
  helmet()({} as never, res as never, () => void (done = true));
  // helmet answers synchronously today; should it stop, answers would go out without its headers.
  if (!done || Object.keys(headers).length === 0) throw new Error('helmet() did not set its headers synchronously');
  return Object.freeze(headers);
})();

/** A JSON answer as the API's others go out (res.json's content type), with helmet's headers and no-store. */
export function answerJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.statusCode = status;
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  res.setHeader('cache-control', 'no-store');
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(json));
  res.end(json);
}
