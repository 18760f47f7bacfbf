import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { standardWebhookHeaders } from '../../src/activities/deliver';
import { isSealed, loadSealer, Sealer } from '../../src/secrets/sealer';

describe('Sealer', () => {
  const sealer = new Sealer(Buffer.alloc(32, 3));

  test('seals and opens; each sealing differs; plain values pass through open', () => {
    const a = sealer.seal('api-key-123');
    const b = sealer.seal('api-key-123');
    expect(isSealed(a)).toBe(true);
    expect(a).not.toContain('api-key-123');
    expect(a).not.toBe(b);
    expect(sealer.open(a)).toBe('api-key-123');
    expect(sealer.open('plain')).toBe('plain');
    expect(sealer.seal(a)).toBe(a); // sealing twice is harmless
  });

  test('a different key cannot open it, and says so without the value', () => {
    const other = new Sealer(Buffer.alloc(32, 4));
    expect(() => other.open(sealer.seal('secret'))).toThrow(/SECRETS_KEY differs/);
  });

  test('tampering is detected', () => {
    const sealed = sealer.seal('secret');
    const flipped = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'B' : 'A') + sealed.slice(-1);
    expect(() => sealer.open(flipped)).toThrow();
  });

  test('sealKeys and openKeys touch only the named keys', () => {
    const sealed = sealer.sealKeys({ password: 'p', username: 'u', n: 1 }, ['password', 'missing']);
    expect(sealed.username).toBe('u');
    expect(sealed.n).toBe(1);
    expect(isSealed(sealed.password as string)).toBe(true);
    expect(sealer.openKeys(sealed, ['password'])).toEqual({ password: 'p', username: 'u', n: 1 });
  });

  test('without SECRETS_KEY a key file is created once, private, and reused', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealer-'));
    const first = loadSealer({ dataDir: dir });
    const second = loadSealer({ dataDir: dir });
    expect(second.open(first.seal('x'))).toBe('x');
    expect(statSync(path.join(dir, 'secrets.key')).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path.join(dir, 'secrets.key'), 'utf8'), 'base64')).toHaveLength(32);
    const fromEnv = loadSealer({ dataDir: dir, secretsKey: Buffer.alloc(32, 3).toString('hex') });
    expect(fromEnv.open(sealer.seal('y'))).toBe('y');
    expect(() => loadSealer({ dataDir: dir, secretsKey: 'short' })).toThrow(/32 bytes/);
  });
});

describe('Standard Webhooks headers', () => {
  const secret = `whsec_${Buffer.alloc(24, 5).toString('base64')}`;
  const body = JSON.stringify({ message: { eventId: 'e1', events: [] } });

  test('verify with the standardwebhooks package and match an independent HMAC', () => {
    const now = Date.now();
    const headers = standardWebhookHeaders('msg_1', body, secret, now);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    const expected = createHmac('sha256', Buffer.alloc(24, 5)).update(`msg_1.${Math.floor(now / 1000)}.${body}`).digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
  });

  test('a stale timestamp or another body fails verification', () => {
    const old = standardWebhookHeaders('msg_1', body, secret, Date.now() - 3_600_000);
    expect(() => new Webhook(secret).verify(body, old)).toThrow();
    const fresh = standardWebhookHeaders('msg_1', body, secret, Date.now());
    expect(() => new Webhook(secret).verify(`${body} `, fresh)).toThrow();
  });
});
