import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie an operator's browser holds after signing in; sent to the codec endpoints only (its Path). */
export const SESSION_COOKIE = 'ee_operator_session';
/** How long a sign-in lasts. The cookie cannot be revoked by one process for all, so it is kept short. */
export const SESSION_SECONDS = 8 * 3600;

const VERSION = 'v1';

/**
 * Operator sessions for browsers, which cannot attach a Bearer header to the Temporal UI's codec
 * requests but can send a cookie. The cookie holds no token: an expiry and a nonce, signed with a key
 * derived from OPERATOR_TOKEN. Signed rather than stored, so every API process behind a load balancer
 * accepts the sessions of the others without a shared store; changing OPERATOR_TOKEN ends them all.
 */
export class OperatorSessions {
  private readonly key: Buffer;

  constructor(
    operatorToken: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', operatorToken, Buffer.alloc(0), 'element-events operator session v1', 32));
  }

  /** A new session's cookie value and when it ends. */
  create(): { value: string; expiresAt: Date } {
    const expires = Math.floor(this.now() / 1000) + SESSION_SECONDS;
    const body = `${VERSION}.${expires}.${randomBytes(16).toString('base64url')}`;
    return { value: `${body}.${this.mac(body)}`, expiresAt: new Date(expires * 1000) };
  }

  /** Whether a cookie value is a session this key signed and that has not ended. */
  valid(value: string | undefined): boolean {
    return this.check(value) === 'valid';
  }

  /**
   * A session this key signed, still running (`valid`) or ended (`expired`: a browser left signed in,
   * not a guess); or anything else (`forged`), which counts as a failed sign-in.
   */
  check(value: string): 'valid' | 'expired' | 'forged';
  check(value: string | undefined): 'valid' | 'expired' | 'forged' | 'absent';
  check(value: string | undefined): 'valid' | 'expired' | 'forged' | 'absent' {
    if (value === undefined || value === '') return 'absent';
    if (value.length > 200) return 'forged';
    const parts = value.split('.');
    if (parts.length !== 4 || parts[0] !== VERSION || !/^\d{1,12}$/.test(parts[1]!)) return 'forged';
    const body = parts.slice(0, 3).join('.');
    const given = Buffer.from(parts[3]!, 'base64url');
    const expected = Buffer.from(this.mac(body), 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'forged';
    return Number(parts[1]) * 1000 > this.now() ? 'valid' : 'expired';
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}

/** One cookie's value from a Cookie header (no parser dependency for one name). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
