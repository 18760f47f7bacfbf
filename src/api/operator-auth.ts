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
  return (req, _res, next) => {
    if (token === undefined) throw operatorEndpointsOff();
    const address = clientKey(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    limiter?.check(address);
    if (!isOperatorToken(token, bearerToken(req.header('authorization')))) {
      limiter?.failed(address);
      throw unauthorized('This endpoint is for operators: send "Authorization: Bearer <OPERATOR_TOKEN>"');
    }
    next();
  };
}

/** The 404 of every operator endpoint while OPERATOR_TOKEN is unset. */
export const operatorEndpointsOff = () => notFound('Not found: operator endpoints are off until OPERATOR_TOKEN is set');

/** The token of an `Authorization: Bearer <token>` header. */
export const bearerToken = (header: string | undefined) => /^\s*Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];

/** Whether a request carries the operator token (for endpoints that also take it another way). */
export function isOperatorToken(token: string | undefined, given: string | undefined): boolean {
  return token !== undefined && given !== undefined && timingSafeEqual(digest(given), digest(token));
}
