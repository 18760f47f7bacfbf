import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTs } from '../../bench/lib/processes';
import { APP_PROCESS_ENV } from '../../src/process-env';
import { appProcess } from '../../src/stack/apps';

// glibc reads its malloc settings as a process starts, so each way of starting the app carries them
// (src/process-env.ts says why); these are copies of one setting, kept in step here.
const root = path.resolve(__dirname, '..', '..');
const assignments = Object.entries(APP_PROCESS_ENV).map(([key, value]) => `${key}=${value}`);

describe('every way of starting the app sets APP_PROCESS_ENV', () => {
  test.each(['start', 'worker', 'api'])('npm run %s', (script) => {
    const scripts = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts[script]).toMatch(new RegExp(`^${assignments.join(' ')} tsx src/`));
  });

  test('the Docker image (docker-compose.yml runs it)', () => {
    const env = /^ENV ((?:.*\\\n)*.*)$/m.exec(readFileSync(path.join(root, 'Dockerfile'), 'utf8'))?.[1] ?? '';
    for (const a of assignments) expect(env.split(/\s+\\?\s*/)).toContain(a);
  });

  test('npm run stack', () => {
    expect(appProcess('worker', 1, { PORT: '1' }, '/tmp').spec.env).toMatchObject(APP_PROCESS_ENV);
  });

  test('the benchmark', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'process-env-'));
    try {
      const file = path.join(dir, 'env.json');
      const child = runTs('test/unit/process-env/print-env.ts', { PRINT_ENV_TO: file });
      expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject(APP_PROCESS_ENV);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
