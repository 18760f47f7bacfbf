import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { notFound, unauthorized } from '../errors';
import { clientKey, type LoginLimiter } from './login-limiter';

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Operators' endpoints (metrics, the codec server) take their own credential, `OPERATOR_TOKEN`, never an
 * account's secrets: an account may not read other accounts' numbers or decode their payloads. Sent as
 * `Authorization: Bearer <token>`. Without a token configured the endpoints do not exist (404), so a
 * deployment exposes nothing it did not ask for. Failures count against the caller's address like logins.
 */
export function requireOperator(token: string | undefined, limiter?: LoginLimiter): RequestHandler {
  const expected = token === undefined ? undefined : digest(token);
  return (req, _res, next) => {
    if (!expected) throw notFound('Not found: operator endpoints are off until OPERATOR_TOKEN is set');
    const address = clientKey(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    limiter?.check(address);
    const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(req.header('authorization') ?? '');
    if (!m || !timingSafeEqual(digest(m[1]!), expected)) {
      limiter?.failed(address);
      throw unauthorized('This endpoint is for operators: send "Authorization: Bearer <OPERATOR_TOKEN>"');
    }
    next();
  };
}

/** Whether a request carries the operator token (for endpoints that also take it another way). */
export function isOperatorToken(token: string | undefined, given: string | undefined): boolean {
  return token !== undefined && given !== undefined && timingSafeEqual(digest(given), digest(token));
}
