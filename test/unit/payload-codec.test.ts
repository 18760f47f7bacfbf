import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { failureConverter } from '../../src/temporal/failure-converter';
import { ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA, loadPayloadCodec, payloadKeyOf } from '../../src/temporal/payload-codec';

const keyA = payloadKeyOf(Buffer.alloc(32, 0xa1));
const keyB = payloadKeyOf(Buffer.alloc(32, 0xb2));
const record = { FIRST_NAME: 'Zuzanna', EMAIL_ADDRESS: 'zuzanna.quellbrook@example.org', PHONE: '+44 20 7946 0321' };
const plain = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const text = (p: Payload) =>
  Buffer.concat([Buffer.from(p.data ?? []), ...Object.values(p.metadata ?? {}).map((v) => Buffer.from(v))]).toString('latin1');
const metaOf = (p: Payload, name: string) => Buffer.from(p.metadata?.[name] ?? []).toString();

describe('EncryptionCodec', () => {
  const codec = new EncryptionCodec([keyA]);

  test('encrypts: no plain byte of the value, the key id in the metadata, and it decodes to the same payload', async () => {
    const original = plain(record);
    const [sealed] = await codec.encode([original]);
    expect(metaOf(sealed!, 'encoding')).toBe(ENCRYPTED_ENCODING);
    expect(metaOf(sealed!, KEY_ID_METADATA)).toBe(keyA.id);
    for (const value of [...Object.values(record), 'json/plain']) expect(text(sealed!)).not.toContain(value);
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual(record);
    // Overhead: 12 bytes of IV and 16 of tag around the serialized payload (its metadata included).
    const overhead = sealed!.data!.length - original.data!.length;
    expect(sealed!.data!.length).toBe(28 + temporal.api.common.v1.Payload.encode(original).finish().length);
    process.stdout.write(
      `payload codec: value bytes ${original.data!.length}, encrypted bytes ${sealed!.data!.length}, overhead ${overhead}\n`,
    );
  });

  test('tampered data or a key id swapped for another held key is refused, not decoded to something else', async () => {
    const [sealed] = await codec.encode([plain(record)]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[flipped.length - 20]! ^= 1;
    await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow(/unable to authenticate|auth/i);
    const both = new EncryptionCodec([keyA, keyB]);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata, [KEY_ID_METADATA]: Buffer.from(keyB.id) } };
    await expect(both.decode([relabelled])).rejects.toThrow();
    await expect(codec.decode([{ ...sealed!, data: flipped.subarray(0, 20) }])).rejects.toThrow(/too short/);
  });

  test('a payload of a key not held: the error names that key id, and nothing of the payload or the keys', async () => {
    const [sealed] = await new EncryptionCodec([keyB]).encode([plain(record)]);
    const err = await codec.decode([sealed!]).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain(keyB.id);
    for (const leak of [...Object.values(record), keyA.bytes.toString('base64'), keyB.bytes.toString('base64'), keyA.id]) {
      expect(err?.message).not.toContain(leak);
    }
  });

  test('payloads written before encryption (any other encoding) pass through unchanged', async () => {
    const payloads = [plain(record), plain(null), plain(new Uint8Array([1, 2, 3]))];
    await expect(codec.decode(payloads)).resolves.toEqual(payloads);
  });

  test('rotation: the first key encrypts, older keys still decode, and a set without the old key says which one it lacks', async () => {
    const [old] = await codec.encode([plain(record)]);
    const rotated = new EncryptionCodec([keyB, keyA]);
    const [fresh] = await rotated.encode([plain(record)]);
    expect(metaOf(fresh!, KEY_ID_METADATA)).toBe(keyB.id);
    expect(rotated.currentKeyId).toBe(keyB.id);
    const decoded = await rotated.decode([old!, fresh!]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([record, record]);
    await expect(new EncryptionCodec([keyB]).decode([old!])).rejects.toThrow(keyA.id);
  });
});

describe('loadPayloadCodec', () => {
  const secrets = Buffer.alloc(32, 5);

  test('PAYLOAD_KEYS when set (first encrypts); else keys derived from SECRETS_KEY, never the secrets key itself', async () => {
    const given = loadPayloadCodec({ payloadKeys: `${keyB.bytes.toString('hex')},${keyA.bytes.toString('base64')}`, dataDir: '.' });
    expect(given.currentKeyId).toBe(keyB.id);
    const derived = loadPayloadCodec({ secretsKey: secrets.toString('base64'), dataDir: '.' });
    expect(derived.currentKeyId).not.toBe(payloadKeyOf(secrets).id);
    // Derived the same way in every process that shares SECRETS_KEY: what one encrypts, another decodes.
    const [sealed] = await derived.encode([plain(record)]);
    const again = loadPayloadCodec({ secretsKey: secrets.toString('base64'), dataDir: '.' });
    expect(defaultPayloadConverter.fromPayload((await again.decode([sealed!]))[0]!)).toEqual(record);
  });

  test('moving from SECRETS_KEY-derived keys to PAYLOAD_KEYS: the new key encrypts, what the derived key wrote still decodes', async () => {
    const [before] = await loadPayloadCodec({ secretsKey: secrets.toString('base64'), dataDir: '.' }).encode([plain(record)]);
    const moved = loadPayloadCodec({ payloadKeys: keyA.bytes.toString('base64'), secretsKey: secrets.toString('base64'), dataDir: '.' });
    expect(moved.currentKeyId).toBe(keyA.id);
    expect(defaultPayloadConverter.fromPayload((await moved.decode([before!]))[0]!)).toEqual(record);
  });

  test('without either, from the development key file in DATA_DIR, the same key for every process that shares it', () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'payload-codec-'));
    expect(loadPayloadCodec({ dataDir }).currentKeyId).toBe(loadPayloadCodec({ dataDir }).currentKeyId);
  });

  test('a key of the wrong length is refused with a message that names the rule, not the key', () => {
    expect(() => loadPayloadCodec({ payloadKeys: Buffer.alloc(16, 1).toString('base64'), dataDir: '.' })).toThrow(/32 bytes/);
  });
});

test('failure messages go into an encoded payload (which the codec encrypts) and come back on decoding', () => {
  const failure = failureConverter.errorToFailure(new Error(`callback refused ${record.EMAIL_ADDRESS}`), defaultPayloadConverter);
  expect(failure.message).toBe('Encoded failure');
  expect(failure.stackTrace ?? '').not.toContain(record.EMAIL_ADDRESS);
  // The attributes are an ordinary payload: the codec encrypts it with the rest.
  expect(defaultPayloadConverter.fromPayload(failure.encodedAttributes!)).toMatchObject({
    message: expect.stringContaining('@example.org'),
  });
  expect(failureConverter.failureToError(failure, defaultPayloadConverter).message).toContain(record.EMAIL_ADDRESS);
});
