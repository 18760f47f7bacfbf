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
