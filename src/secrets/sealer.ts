import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const PREFIX = 'sealed:v1:';

/**
 * Secrets (provider API keys and tokens, client secrets, signature keys, callback verifiers) travel
 * through Temporal in workflow inputs, state and signals. Sealing them with AES-256-GCM keeps them
 * out of history, the database and the Temporal UI, while everything else there stays readable for
 * operators. Only the API and the worker, which hold the key, can open them.
 */
export class Sealer {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SECRETS_KEY must be 32 bytes (base64 or hex)');
  }

  seal(plain: string): string {
    if (isSealed(plain)) return plain;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return `${PREFIX}${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** Opens a sealed value; anything not sealed is returned as it is. */
  open(value: string): string {
    if (!isSealed(value)) return value;
    const raw = Buffer.from(value.slice(PREFIX.length), 'base64url');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('a sealed secret could not be opened: SECRETS_KEY differs from the key it was sealed with');
    }
  }

  sealJson(value: unknown): string {
    return this.seal(JSON.stringify(value));
  }

  openJson<T>(value: string): T {
    return JSON.parse(this.open(value)) as T;
  }

  /** The configuration with the named keys sealed (or opened). */
  sealKeys(configuration: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
    return mapKeys(configuration, keys, (v) => this.seal(v));
  }

  openKeys(configuration: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
    return mapKeys(configuration, keys, (v) => this.open(v));
  }
}

export const isSealed = (value: string) => value.startsWith(PREFIX);

function mapKeys(configuration: Record<string, unknown>, keys: readonly string[], fn: (v: string) => string) {
  const out = { ...configuration };
  for (const key of keys) {
    const value = out[key];
    if (typeof value === 'string') out[key] = fn(value);
  }
  return out;
}

function parseKey(text: string): Buffer {
  const t = text.trim();
  return /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
}

/**
 * SECRETS_KEY when set (production: every API and worker process shares it); otherwise a key kept
 * beside the embedded server's database, created on first use, so local runs need no set-up.
 */
export function loadSealer(opts: { secretsKey?: string; dataDir: string }): Sealer {
  if (opts.secretsKey) return new Sealer(parseKey(opts.secretsKey));
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
  return new Sealer(parseKey(readFileSync(file, 'utf8')));
}
