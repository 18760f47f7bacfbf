import { cookieValue, OperatorSessions, SESSION_SECONDS } from '../../src/api/operator-session';
import { uiConfig } from '../../src/stack/ui-server';
import { devServerArgs } from '../../src/temporal/dev-server';

const TOKEN = 'unit-operator-token-0123456789';

describe('OperatorSessions', () => {
  let now = Date.UTC(2026, 0, 1);
  const sessions = new OperatorSessions(TOKEN, () => now);

  test('a session holds no token, is accepted by another process with the same token, and ends after its lifetime', () => {
    const { value, expiresAt } = sessions.create();
    expect(value).not.toContain(TOKEN);
    expect(expiresAt.getTime()).toBe(now + SESSION_SECONDS * 1000);
    // Another API process (same OPERATOR_TOKEN) accepts it; one with another token does not.
    expect(new OperatorSessions(TOKEN, () => now).valid(value)).toBe(true);
    expect(new OperatorSessions(`${TOKEN}-rotated`, () => now).valid(value)).toBe(false);
    now += SESSION_SECONDS * 1000 - 1000;
    expect(sessions.valid(value)).toBe(true);
    now += 1000;
    expect(sessions.valid(value)).toBe(false);
    // Ended, but signed: a browser left signed in, not a guess (it does not count as a failed sign-in).
    expect(sessions.check(value)).toBe('expired');
  });

  test('an altered session (a later expiry, another signature, junk) is refused', () => {
    const { value } = sessions.create();
    const [version, expires, nonce, mac] = value.split('.');
    const forged = [
      [version, String(Number(expires) + 3600), nonce, mac],
      [version, expires, `${nonce}x`, mac],
      [version, expires, nonce, `${mac![0] === 'A' ? 'B' : 'A'}${mac!.slice(1)}`],
      ['v2', expires, nonce, mac],
    ].map((parts) => parts.join('.'));
    for (const f of [...forged, 'v1', 'v1.1.2.3.4', 'x'.repeat(500)]) expect(sessions.check(f)).toBe('forged');
    expect([sessions.check(undefined), sessions.check('')]).toEqual(['absent', 'absent']);
  });

  test('cookieValue finds its cookie among others', () => {
    expect(cookieValue('a=1; ee_operator_session=v1.2.3.4; b=2', 'ee_operator_session')).toBe('v1.2.3.4');
    expect(cookieValue('xee_operator_session=1', 'ee_operator_session')).toBeUndefined();
    expect(cookieValue(undefined, 'ee_operator_session')).toBeUndefined();
  });
});

describe('Temporal UIs pointed at the codec server', () => {
  test('the embedded dev server passes --ui-codec-endpoint, not when headless', () => {
    const opts = { port: 7233, uiPort: 8233, dataDir: '/tmp/x', namespace: 'default', codecEndpoint: 'http://localhost:3000/codec' };
    const args = devServerArgs(opts);
    expect(args[args.indexOf('--ui-codec-endpoint') + 1]).toBe('http://localhost:3000/codec');
    expect(devServerArgs({ ...opts, headless: true })).not.toContain('--ui-codec-endpoint');
    expect(devServerArgs({ ...opts, codecEndpoint: undefined })).not.toContain('--ui-codec-endpoint');
  });

  test("the stack's UI server config names the endpoint and includes credentials (the operator's cookie)", () => {
    const config = uiConfig({
      temporalAddress: '127.0.0.1:7233',
      port: 8233,
      namespace: 'default',
      codecEndpoint: 'http://localhost:3000/codec',
    });
    expect(config).toContain('codec:\n  endpoint: "http://localhost:3000/codec"\n  includeCredentials: true\n');
    expect(uiConfig({ temporalAddress: '127.0.0.1:7233', port: 8233, namespace: 'default' })).toContain('includeCredentials: false');
  });
});
