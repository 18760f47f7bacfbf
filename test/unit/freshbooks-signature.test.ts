import { freshbooks } from '../../src/elements/freshbooks';
import { createHmac } from 'node:crypto';
import { dictForms, freshbooksSignatureChecker, pythonJsonDumps } from '../../src/elements/freshbooks/signature';
import { cases, realPython, realPythonSignature, repeatedKeyCases } from './python-json';

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

  test('a field repeated with another value is refused; repeated with the same value, it counts once', () => {
    const parse = (body: string) => freshbooks.webhooks!.parse(body, 'application/x-www-form-urlencoded');
    // Either reading may verify, so differing values would let a signed post be delivered as another.
    expect(parse('name=invoice.update&object_id=5&account_id=A&object_id=999')).toBe('field object_id is repeated with different values');
    expect(parse('name=invoice.update&object_id=5&account_id=A&object_id=5')).toEqual({
      kind: 'notification',
      event: 'invoice.update',
      fields: [
        ['name', 'invoice.update'],
        ['object_id', '5'],
        ['account_id', 'A'],
      ],
    });
  });

  test('a header that cannot be a base64 HMAC-SHA256 is refused before any work', () => {
    for (const junk of ['', 'junk', 'A'.repeat(44), `${'A'.repeat(42)}==`, sign('v', 'x').slice(0, -1)]) {
      expect(freshbooksSignatureChecker([['name', 'x.create']], 'name=x.create', junk)).toBeUndefined();
    }
  });
});

describe("src's FreshBooks signature against signatures Python computes itself (hmac, hashlib, json.dumps)", () => {
  // As the receiver sees a post: the raw form body and the pairs URLSearchParams reads from it.
  const received = (pairs: [string, string][]) => {
    const raw = new URLSearchParams(pairs).toString();
    return { raw, fields: [...new URLSearchParams(raw).entries()] as [string, string][] };
  };

  test.each(Object.entries({ ...cases, ...repeatedKeyCases }))('%s: both readings of the form verify', (_name, pairs) => {
    const { raw, fields } = received(pairs);
    for (const reading of ['last', 'first'] as const) {
      const python = realPythonSignature(pairs, 'vérifier-é', reading);
      expect(freshbooksSignatureChecker(fields, raw, python.signature)!('vérifier-é')).toBe(true);
      expect(freshbooksSignatureChecker(fields, raw, python.signature)!('vérifier-e')).toBe(false);
    }
  });

  test.each(Object.entries(repeatedKeyCases))('%s: the messages src builds are the bytes Python signs', (_name, pairs) => {
    const ours = dictForms(pairs).map(pythonJsonDumps);
    const theirs = [realPythonSignature(pairs, 'k', 'last').message, realPythonSignature(pairs, 'k', 'first').message];
    expect(ours.map((m) => Buffer.from(m, 'utf8').toString('hex'))).toEqual(theirs.map((m) => Buffer.from(m, 'utf8').toString('hex')));
  });

  test('a non-ASCII value changed by one character, or signed with the pairs in another order, does not verify', () => {
    const pairs = repeatedKeyCases['repeated non-ASCII value']!;
    const { raw, fields } = received(pairs);
    const python = realPythonSignature(pairs, 'v');
    // Python signed the last reading: the repeated key's last value is the one that must not change.
    const changed = fields.map(([k, v]): [string, string] => [k, v.replace('中', '申')]);
    expect(freshbooksSignatureChecker(changed, new URLSearchParams(changed).toString(), python.signature)!('v')).toBe(false);
    const reordered = realPythonSignature([...pairs].reverse(), 'v');
    expect(freshbooksSignatureChecker(fields, raw, reordered.signature)!('v')).toBe(false);
  });
});
