import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { forbidden, HttpError, unauthorized } from '../errors';
import { clientKey, type LoginLimiter } from './login-limiter';

export interface Account {
  user: string;
  organization: string;
}

/** Who is calling: the accounts whose secrets match, and with `Element` auth, the one instance allowed. */
export interface Caller {
  accountIds: string[];
  tokenHash?: string;
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A stable, non-secret account id: instances are tagged with it, never with the secrets. */
export const accountIdOf = (a: Account) => `acct_${sha256(`${a.user}\u0000${a.organization}`).slice(0, 20)}`;

function same(a: string, b: string): boolean {
  const x = Buffer.from(sha256(a));
  const y = Buffer.from(sha256(b));
  return timingSafeEqual(x, y);
}

const headerPattern = /^\s*User\s+([^\s,]+)\s*,\s*(Organization|Element)\s+([^\s,]+)\s*$/i;

export function authenticate(header: string | undefined, accounts: readonly Account[]): Caller {
  if (!header) throw unauthorized('Missing Authorization header: expected "User <secret>, Organization <secret>"');
  const m = headerPattern.exec(header);
  if (!m)
    throw unauthorized(
      'Malformed Authorization header: expected "User <secret>, Organization <secret>" or "User <secret>, Element <token>"',
    );
  const [, user, kind, value] = m as unknown as [string, string, string, string];
  if (kind.toLowerCase() === 'organization') {
    const account = accounts.find((a) => same(a.user, user) && same(a.organization, value));
    if (!account) throw unauthorized('Invalid User or Organization secret');
    return { accountIds: [accountIdOf(account)] };
  }
  const matching = accounts.filter((a) => same(a.user, user));
  if (!matching.length) throw unauthorized('Invalid User secret');
  return { accountIds: matching.map(accountIdOf), tokenHash: sha256(value) };
}

declare module 'express-serve-static-core' {
  interface Request {
    caller?: Caller;
    requestId?: string;
  }
}

/** Authenticates every call, counting failures per client address (`req.ip`, which honours TRUST_PROXY). */
export const requireCaller =
  (accounts: readonly Account[], limiter: LoginLimiter): RequestHandler =>
  (req, _res, next) => {
    const address = clientKey(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    limiter.check(address);
    try {
      req.caller = authenticate(req.header('authorization'), accounts);
    } catch (err) {
      if (err instanceof HttpError && err.status === 401) limiter.failed(address);
      throw err;
    }
    next();
  };

/** Platform-only calls (creating instances, issuing tokens) refuse instance tokens. */
export const requireOrganization: RequestHandler = (req, _res, next) => {
  if (req.caller?.tokenHash) throw forbidden('This call needs "User <secret>, Organization <secret>", not an Element token');
  next();
};
