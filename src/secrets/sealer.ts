import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PREFIX = 'sealed:v2:';

/** What a sealed value belongs to. It is bound into the ciphertext, so a copy works nowhere else. */
export interface SealContext {
  instanceId: number;
  /** The configuration key, or the name of the state field (`provider`, `verifier`). */
  field: string;
}

interface Key {
  id: string;
  bytes: Buffer;
}

/** A short, non-secret name for a key, carried in each sealed value so the right key opens it. */
const keyIdOf = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex').slice(0, 8);
const aad = ({ instanceId, field }: SealContext) => Buffer.from(`element-events\u0000instance:${instanceId}\u0000field:${field}`);

/**
 * Secrets (provider API keys and tokens, client secrets, signature keys, callback verifiers) travel
 * through Temporal in workflow inputs, state and signals. Sealing them with AES-256-GCM keeps them
 * out of history, the database and the Temporal UI, while everything else there stays readable for
 * operators. The instance and field are the cipher's additional data, so a sealed value copied from
 * one tenant's history into another's, or from one field to another, does not open. Several keys
 * may be held: the first seals, any opens the values sealed with it (rotation without downtime).
 */
export class Sealer {
  private readonly keys: Key[];

  constructor(keys: Buffer | readonly Buffer[]) {
    const list = Buffer.isBuffer(keys) ? [keys] : [...keys];
    if (!list.length) throw new Error('SECRETS_KEY holds no key');
    for (const k of list) if (k.length !== 32) throw new Error('each SECRETS_KEY key must be 32 bytes (base64 or hex)');
    this.keys = list.map((bytes) => ({ id: keyIdOf(bytes), bytes }));
  }

  /** The id of the key that seals: sealed values carry it. */
  get keyId(): string {
    return this.keys[0]!.id;
  }

  seal(plain: string, context: SealContext): string {
    const key = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key.bytes, iv);
    cipher.setAAD(aad(context));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${key.id}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** Opens a value sealed for this context; the error never carries the value. */
  open(value: string, context: SealContext): string {
    if (!value.startsWith(PREFIX)) throw new Error(`${context.field} of instance ${context.instanceId} is not a sealed value`);
    const rest = value.slice(PREFIX.length);
    const colon = rest.indexOf(':');
    const key = this.keys.find((k) => k.id === rest.slice(0, colon));
    if (colon < 0 || !key) {
      throw new Error(
        `a sealed secret could not be opened: it was sealed with key ${rest.slice(0, Math.max(colon, 0)).slice(0, 8) || '?'}, which SECRETS_KEY does not list`,
      );
    }
    const raw = Buffer.from(rest.slice(colon + 1), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, raw.subarray(0, 12));
    decipher.setAAD(aad(context));
    try {
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(
        `a sealed secret could not be opened as ${context.field} of instance ${context.instanceId}: altered, or sealed for another instance or field`,
      );
    }
  }

  sealJson(value: unknown, context: SealContext): string {
    return this.seal(JSON.stringify(value), context);
  }

  openJson<T>(value: string, context: SealContext): T {
    return JSON.parse(this.open(value, context)) as T;
  }

  /** The configuration with the named keys sealed (or opened), each bound to its key name. */
  sealKeys(configuration: Record<string, unknown>, keys: readonly string[], instanceId: number): Record<string, unknown> {
    return mapKeys(configuration, keys, (v, field) => this.seal(v, { instanceId, field }));
  }

  openKeys(configuration: Record<string, unknown>, keys: readonly string[], instanceId: number): Record<string, unknown> {
    return mapKeys(configuration, keys, (v, field) => this.open(v, { instanceId, field }));
  }
}

/** Client values that look sealed are refused at the edge: only this process seals. */
export const looksSealed = (value: unknown) => typeof value === 'string' && value.startsWith('sealed:');

function mapKeys(configuration: Record<string, unknown>, keys: readonly string[], fn: (v: string, key: string) => string) {
  const out = { ...configuration };
  for (const key of keys) {
    const value = out[key];
    if (typeof value === 'string') out[key] = fn(value, key);
  }
  return out;
}

function parseKey(text: string): Buffer {
  const t = text.trim();
  return /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
}

/** `SECRETS_KEY`: one key, or several comma separated, the first sealing and all opening. */
export const parseKeys = (text: string): Buffer[] =>
  text
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean)
    .map(parseKey);

/**
 * SECRETS_KEY when set (production: every API and worker process shares it); otherwise a key kept
 * beside the embedded server's database, created on first use, so local runs need no set-up.
 */
export function loadSecretKeys(opts: { secretsKey?: string; dataDir: string }): Buffer[] {
  if (opts.secretsKey) return parseKeys(opts.secretsKey);
  const file = path.resolve(opts.dataDir, 'secrets.key');
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      // Another process (the API beside the worker) created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  return parseKeys(readFileSync(file, 'utf8'));
}

export const loadSealer = (opts: { secretsKey?: string; dataDir: string }): Sealer => new Sealer(loadSecretKeys(opts));
