import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { standardWebhookHeaders } from '../../src/activities/deliver';
import { loadSealer, looksSealed, Sealer } from '../../src/secrets/sealer';

describe('Sealer', () => {
  const keyA = Buffer.alloc(32, 3);
  const keyB = Buffer.alloc(32, 4);
  const sealer = new Sealer(keyA);
  const here = { instanceId: 101, field: 'password' };

  test('seals and opens; each sealing differs; the value and the key stay out of the sealed form', () => {
    const a = sealer.seal('api-key-123', here);
    const b = sealer.seal('api-key-123', here);
    expect(looksSealed(a)).toBe(true);
    expect(a).toMatch(new RegExp(`^sealed:v2:${sealer.keyId}:[A-Za-z0-9_-]+$`));
    expect(a).not.toContain('api-key-123');
    expect(a).not.toBe(b);
    expect(sealer.open(a, here)).toBe('api-key-123');
  });

  test('a sealed value moved to another instance or another field does not open', () => {
    const sealed = sealer.seal('signing-key', { instanceId: 101, field: 'event.notification.signature.key' });
    expect(() => sealer.open(sealed, { instanceId: 202, field: 'event.notification.signature.key' })).toThrow(
      /sealed for another instance or field/,
    );
    expect(() => sealer.open(sealed, { instanceId: 101, field: 'password' })).toThrow(/sealed for another instance or field/);
    expect(sealer.open(sealed, { instanceId: 101, field: 'event.notification.signature.key' })).toBe('signing-key');
  });

  test('a plain value is not opened as if sealed', () => {
    expect(() => sealer.open('plain', here)).toThrow(/not a sealed value/);
  });

  test('a key not listed cannot open it, and the error names SECRETS_KEY, not the value', () => {
    const other = new Sealer(keyB);
    let message = '';
    try {
      other.open(sealer.seal('secret-value', here), here);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/SECRETS_KEY does not list/);
    expect(message).not.toContain('secret-value');
  });

  test('rotation: the first key seals, older keys listed after it still open what they sealed', () => {
    const old = sealer.seal('kept', here);
    const rotated = new Sealer([keyB, keyA]);
    expect(rotated.open(old, here)).toBe('kept');
    const fresh = rotated.seal('new', here);
    expect(fresh).toContain(`:${new Sealer(keyB).keyId}:`);
    expect(() => sealer.open(fresh, here)).toThrow(/SECRETS_KEY does not list/);
    const fromEnv = loadSealer({ dataDir: '.', secretsKey: `${keyB.toString('base64')}, ${keyA.toString('hex')}` });
    expect(fromEnv.open(old, here)).toBe('kept');
    expect(fromEnv.keyId).toBe(rotated.keyId);
  });

  test('tampering is detected', () => {
    const sealed = sealer.seal('secret', here);
    const flipped = sealed.slice(0, -2) + (sealed.endsWith('A') ? 'B' : 'A') + sealed.slice(-1);
    expect(() => sealer.open(flipped, here)).toThrow();
  });

  test('sealKeys and openKeys touch only the named keys, each bound to its name', () => {
    const sealed = sealer.sealKeys({ password: 'p', username: 'u', n: 1 }, ['password', 'missing'], 7);
    expect(sealed.username).toBe('u');
    expect(sealed.n).toBe(1);
    expect(looksSealed(sealed.password)).toBe(true);
    expect(sealer.openKeys(sealed, ['password'], 7)).toEqual({ password: 'p', username: 'u', n: 1 });
    expect(() => sealer.openKeys(sealed, ['password'], 8)).toThrow();
    expect(() => sealer.open(sealed.password as string, { instanceId: 7, field: 'username' })).toThrow();
  });

  test('looksSealed catches any sealed: prefix, not only this version', () => {
    expect(looksSealed('sealed:v1:abc')).toBe(true);
    expect(looksSealed('sealed:')).toBe(true);
    expect(looksSealed('not sealed:')).toBe(false);
    expect(looksSealed(42)).toBe(false);
  });

  test('without SECRETS_KEY a key file is created once, private, and reused', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealer-'));
    const first = loadSealer({ dataDir: dir });
    const second = loadSealer({ dataDir: dir });
    expect(second.open(first.seal('x', here), here)).toBe('x');
    expect(statSync(path.join(dir, 'secrets.key')).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(path.join(dir, 'secrets.key'), 'utf8'), 'base64')).toHaveLength(32);
    const fromEnv = loadSealer({ dataDir: dir, secretsKey: keyA.toString('hex') });
    expect(fromEnv.open(sealer.seal('y', here), here)).toBe('y');
    expect(() => loadSealer({ dataDir: dir, secretsKey: 'short' })).toThrow(/32 bytes/);
    expect(() => loadSealer({ dataDir: dir, secretsKey: `${keyA.toString('hex')},short` })).toThrow(/32 bytes/);
  });
});

describe('Standard Webhooks headers', () => {
  const secret = `whsec_${Buffer.alloc(24, 5).toString('base64')}`;
  const body = JSON.stringify({ message: { eventId: 'e1', events: [] } });

  test('verify with the standardwebhooks package and match an independent HMAC', () => {
    const now = Date.now();
    const headers = standardWebhookHeaders('msg_1', body, secret, now);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    const expected = createHmac('sha256', Buffer.alloc(24, 5))
      .update(`msg_1.${Math.floor(now / 1000)}.${body}`)
      .digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${expected}`);
  });

  test('a stale timestamp or another body fails verification', () => {
    const old = standardWebhookHeaders('msg_1', body, secret, Date.now() - 3_600_000);
    expect(() => new Webhook(secret).verify(body, old)).toThrow();
    const fresh = standardWebhookHeaders('msg_1', body, secret, Date.now());
    expect(() => new Webhook(secret).verify(`${body} `, fresh)).toThrow();
  });
});
