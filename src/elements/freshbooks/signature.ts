import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The form fields as Python's `json.dumps` writes them, which is what FreshBooks signs: keys in the
 * order received, `", "` and `": "` separators, and (ensure_ascii) every character outside printable
 * ASCII escaped as a lowercase \uXXXX per UTF-16 unit.
 */
export function pythonJsonDumps(pairs: readonly [string, string][]): string {
  const str = (s: string) =>
    JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `{${pairs.map(([k, v]) => `${str(k)}: ${str(v)}`).join(', ')}}`;
}

const hmac = (key: string, message: string) => createHmac('sha256', key).update(message, 'utf8').digest();

function equal(expected: Buffer, given: string): boolean {
  const received = Buffer.from(given.trim(), 'base64');
  return received.length === expected.length && timingSafeEqual(received, expected);
}

/**
 * Checks `X-FreshBooks-Hmac-SHA256`. providers.md documents the signed message as the fields in
 * json.dumps form; the raw form body is accepted too, in case FreshBooks signs the bytes it sends.
 */
export function freshbooksSignatureValid(fields: [string, string][], rawBody: string, signature: string, verifier: string): boolean {
  return equal(hmac(verifier, pythonJsonDumps(fields)), signature) || equal(hmac(verifier, rawBody), signature);
}
