import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The form fields as Python's `json.dumps` writes them, which is what FreshBooks signs: keys in the
 * order received, `", "` and `": "` separators, and (ensure_ascii) every character outside printable
 * ASCII escaped as a lowercase \uXXXX per UTF-16 unit.
 */
export function pythonJsonDumps(pairs: readonly [string, string][]): string {
  const str = (s: string) => JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return `{${pairs.map(([k, v]) => `${str(k)}: ${str(v)}`).join(', ')}}`;
}

const hmac = (key: string, message: string) => createHmac('sha256', key).update(message, 'utf8').digest();

const SHA256_BYTES = 32;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * The form as the dict FreshBooks serializes: a key keeps its first position. Which value a repeated
 * key keeps is not documented (Python's dict() keeps the last, a framework's form.to_dict() the
 * first), so both readings are returned (one form when no key repeats).
 */
export function dictForms(pairs: readonly [string, string][]): [string, string][][] {
  const last = new Map<string, string>();
  const first = new Map<string, string>();
  for (const [k, v] of pairs) {
    last.set(k, v);
    if (!first.has(k)) first.set(k, v);
  }
  const forms = [[...last.entries()], [...first.entries()]];
  return last.size === pairs.length ? [forms[0]!] : forms;
}

/**
 * A checker for `X-FreshBooks-Hmac-SHA256`, or undefined when the header cannot be an HMAC-SHA256 at
 * all (so junk costs nothing). providers.md documents the signed message as the fields in json.dumps
 * form (both readings of a repeated key); the raw form body is accepted too, in case FreshBooks signs
 * the bytes it sends. The messages are built once, however many verifiers are then tried.
 */
export function freshbooksSignatureChecker(
  fields: readonly [string, string][],
  rawBody: string,
  signature: string,
): ((verifier: string) => boolean) | undefined {
  const text = signature.trim();
  if (!BASE64_SHA256.test(text)) return undefined;
  const received = Buffer.from(text, 'base64');
  if (received.length !== SHA256_BYTES) return undefined;
  const messages = [...new Set([...dictForms(fields).map(pythonJsonDumps), rawBody])];
  return (verifier) => messages.some((message) => timingSafeEqual(hmac(verifier, message), received));
}

/** One verifier, one signature: for callers that check a single key (the benchmark's relay). */
export function freshbooksSignatureValid(fields: [string, string][], rawBody: string, signature: string, verifier: string): boolean {
  return freshbooksSignatureChecker(fields, rawBody, signature)?.(verifier) ?? false;
}
