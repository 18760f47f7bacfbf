import { createHmac } from 'node:crypto';
import { dictForms, freshbooksSignatureChecker, pythonJsonDumps } from '../../src/elements/freshbooks/signature';
import { cases, realPython } from './python-json';

const sign = (key: string, message: string) => createHmac('sha256', key).update(message, 'utf8').digest('base64');

describe("src's FreshBooks signature: the message is Python's json.dumps, byte for byte", () => {
  test.each(Object.entries(cases))('%s', (_name, pairs) => {
    const [form] = dictForms(pairs);
    expect(Buffer.from(pythonJsonDumps(form!), 'utf8').equals(Buffer.from(realPython(pairs), 'utf8'))).toBe(true);
  });

  test('a signature over that form verifies; another key, another field or a tampered value does not', () => {
    const pairs = cases.tricky!;
    const raw = new URLSearchParams(pairs).toString();
    const signature = sign('verifier-1', realPython(pairs));
    expect(freshbooksSignatureChecker(pairs, raw, signature)!('verifier-1')).toBe(true);
    expect(freshbooksSignatureChecker(pairs, raw, signature)!('verifier-2')).toBe(false);
    const tampered: [string, string][] = pairs.map(([k, v], i) => [k, i === 0 ? `${v}!` : v]);
    expect(freshbooksSignatureChecker(tampered, new URLSearchParams(tampered).toString(), signature)!('verifier-1')).toBe(false);
  });

  test("a repeated key: Python's dict (last value), the first value, and the raw body are each accepted", () => {
    const pairs: [string, string][] = [
      ['name', 'invoice.create'],
      ['object_id', '1'],
      ['name', 'invoice.update'],
    ];
    const raw = new URLSearchParams(pairs).toString();
    const firstWins = pythonJsonDumps([
      ['name', 'invoice.create'],
      ['object_id', '1'],
    ]);
    for (const message of [realPython(pairs), firstWins, raw]) {
      expect(freshbooksSignatureChecker(pairs, raw, sign('v', message))!('v')).toBe(true);
    }
    // Not the pairs as sent with the repeat kept: no reading produces that.
    const withRepeat = pythonJsonDumps(pairs);
    expect(freshbooksSignatureChecker(pairs, raw, sign('v', withRepeat))!('v')).toBe(false);
  });

  test('a header that cannot be a base64 HMAC-SHA256 is refused before any work', () => {
    for (const junk of ['', 'junk', 'A'.repeat(44), `${'A'.repeat(42)}==`, sign('v', 'x').slice(0, -1)]) {
      expect(freshbooksSignatureChecker([['name', 'x.create']], 'name=x.create', junk)).toBeUndefined();
    }
  });
});
