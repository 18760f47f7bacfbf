import { HttpError } from '../../src/errors';
import { clientKey, LoginLimiter } from '../../src/api/login-limiter';

describe('clientKey', () => {
  test('IPv4 as it is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    expect(clientKey('203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe(clientKey('2001:db8:1:2:bbbb::2'));
    expect(clientKey('2001:db8:1:2::1')).not.toBe(clientKey('2001:db8:1:3::1'));
  });
});

describe('LoginLimiter', () => {
  let now = 1_000_000;
  const limiter = () => new LoginLimiter(3, () => now);

  test('an address is refused after its failures for the minute, with the wait and the limit named', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) {
      l.check('10.0.0.1');
      l.failed('10.0.0.1');
    }
    let thrown: unknown;
    try {
      l.check('10.0.0.1');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(HttpError);
    expect((thrown as HttpError).status).toBe(429);
    expect((thrown as HttpError).message).toMatch(/AUTH_FAILURES_PER_MINUTE/);
    expect((thrown as HttpError).headers['retry-after']).toBe('60');
    // Other addresses are not affected.
    expect(() => l.check('10.0.0.2')).not.toThrow();
  });

  test('the window ends a minute after the first failure', () => {
    const l = limiter();
    for (let i = 0; i < 3; i++) l.failed('10.0.0.1');
    now += 59_000;
    expect(() => l.check('10.0.0.1')).toThrow(/try again in 1 s/);
    now += 1_000;
    expect(() => l.check('10.0.0.1')).not.toThrow();
    l.failed('10.0.0.1');
    expect(() => l.check('10.0.0.1')).not.toThrow();
  });
});
