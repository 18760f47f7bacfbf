// Python's own json.dumps, the form FreshBooks signs, and the cases both our copies are checked on.
import { spawnSync } from 'node:child_process';

const PY = 'import json,sys; print(json.dumps(dict(json.loads(sys.stdin.read()))), end="")';

export function realPython(pairs: [string, string][]): string {
  const r = spawnSync('python3', ['-c', PY], { input: JSON.stringify(pairs), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return r.stdout;
}

export const cases: Record<string, [string, string][]> = {
  empty: [],
  notification: [
    ['name', 'invoice.create'],
    ['object_id', '1234567'],
    ['account_id', '6BApk'],
    ['business_id', '6543'],
    ['identity_id', '1234'],
    ['user_id', '1'],
  ],
  tricky: [
    ['ascii', 'Hello, World! ~`@#$%^&*()_+-=[]{}|;:<>?/ 0123'],
    ['quote"key', 'say "hi"'],
    ['back\\slash', 'C:\\path\\to\\file\\'],
    ['newlines', 'a\nb\r\nc'],
    ['tab', 'a\tb'],
    ['controls', '\b\f\u0000\u0001\u001f'],
    ['del', 'x\u007fy'],
    ['accent', 'café é'],
    ['chinese', '中文'],
    ['emoji', 'ok 👍🏽 🎉'],
    ['slash', 'http://a/b'],
    ['unicode-é-key', 'v'],
    ['empty', ''],
  ],
};

// FreshBooks' side, in Python: the dict it serializes (a repeated key read either way), json.dumps with
// its defaults, and base64(HMAC-SHA256(verifier, that text as UTF-8)): the X-FreshBooks-Hmac-SHA256 value.
const PY_SIGN = `
import base64, hashlib, hmac, json, sys
req = json.loads(sys.stdin.read())
pairs = req["pairs"]
if req["reading"] == "last":
    form = dict(pairs)
else:
    form = {}
    for k, v in pairs:
        form.setdefault(k, v)
message = json.dumps(form)
sig = base64.b64encode(hmac.new(req["key"].encode("utf-8"), message.encode("utf-8"), hashlib.sha256).digest()).decode("ascii")
print(json.dumps({"message": message, "signature": sig}), end="")
`;

/** Python's json.dumps of the form (a repeated key: its last value, or its first) and its HMAC signature. */
export function realPythonSignature(
  pairs: [string, string][],
  key: string,
  reading: 'last' | 'first' = 'last',
): { message: string; signature: string } {
  const r = spawnSync('python3', ['-c', PY_SIGN], { input: JSON.stringify({ pairs, key, reading }), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3 failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { message: string; signature: string };
}

/** Forms with a repeated key, including non-ASCII keys and values. */
export const repeatedKeyCases: Record<string, [string, string][]> = {
  'repeated name': [
    ['name', 'invoice.create'],
    ['object_id', '1'],
    ['name', 'invoice.update'],
  ],
  'repeated non-ASCII value': [
    ['name', 'client.update'],
    ['note', 'café'],
    ['object_id', '7'],
    ['note', '中文 👍🏽 "q" \\ \n'],
  ],
  'repeated non-ASCII key, three times': [
    ['clé', 'un'],
    ['name', 'item.create'],
    ['clé', 'deux é'],
    ['object_id', '9'],
    ['clé', 'trois 🎉'],
  ],
};
