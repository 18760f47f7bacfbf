import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { loadSecretKeys, parseKeys } from '../secrets/sealer';

/** The encoding of an encrypted payload; the Temporal UI shows it as such until a codec server decodes it. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata naming the key that encrypted a payload: rotation keeps old keys to decode with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface PayloadKey {
  id: string;
  bytes: Buffer;
}

/** A short, non-secret name for a key (a hash prefix), stored in each payload's metadata. */
export const payloadKeyOf = (bytes: Buffer): PayloadKey => {
  if (bytes.length !== 32) throw new Error('each payload key must be 32 bytes (base64 or hex)');
  return { id: createHash('sha256').update(bytes).digest('hex').slice(0, 16), bytes };
};

/**
 * Encrypts every payload Temporal stores (workflow and activity inputs and results, signals, updates,
 * queries, memos) with AES-256-GCM: customer records and callback URLs never sit in clear in Temporal's
 * database or UI. The first key encrypts; any listed key decrypts what it encrypted. Payloads written
 * before encryption (no encrypted encoding) pass through, so recorded and running histories still load.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly keys: PayloadKey[];

  constructor(keys: readonly PayloadKey[]) {
    if (!keys.length) throw new Error('the payload codec needs at least one key');
    this.keys = [...keys];
  }

  /** The id of the key new payloads are encrypted with. */
  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys[0]!;
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: { encoding: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(key.id) },
        data: sealed,
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const encoding = payload.metadata?.encoding;
      if (!encoding || Buffer.from(encoding).toString() !== ENCRYPTED_ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString();
      const key = this.keys.find((k) => k.id === keyId);
      if (!key) throw new Error(`a payload was encrypted with key ${keyId.slice(0, 16) || '?'}, which this process does not hold`);
      const data = Buffer.from(payload.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new Error('an encrypted payload is too short');
      const decipher = createDecipheriv('aes-256-gcm', key.bytes, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain) as Payload;
    });
  }
}

/** A payload key derived from a secrets key, so one key set can serve both without one key doing two jobs. */
const derived = (secretsKey: Buffer) => Buffer.from(hkdfSync('sha256', secretsKey, Buffer.alloc(0), 'element-events payload codec v1', 32));

/**
 * `PAYLOAD_KEYS` when set (32 bytes each, base64 or hex, comma separated, the first encrypting);
 * otherwise keys derived from the SECRETS_KEY set (or its development key file), so rotating SECRETS_KEY
 * rotates these too. Every API and worker process must hold the same keys. With both set, the keys
 * derived from SECRETS_KEY come last, decoding only: moving from derived keys to PAYLOAD_KEYS keeps
 * what they encrypted readable.
 */
export function loadPayloadCodec(opts: { payloadKeys?: string; secretsKey?: string; dataDir: string }): EncryptionCodec {
  const keys = opts.payloadKeys
    ? [...parseKeys(opts.payloadKeys), ...(opts.secretsKey ? parseKeys(opts.secretsKey).map(derived) : [])]
    : loadSecretKeys(opts).map(derived);
  const unique = new Map(keys.map(payloadKeyOf).map((k) => [k.id, k]));
  return new EncryptionCodec([...unique.values()]);
}
