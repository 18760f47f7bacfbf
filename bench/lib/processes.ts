import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { APP_PROCESS_ENV } from '../../src/process-env';

export const root = path.resolve(__dirname, '..', '..');

/**
 * Runs one of the project's TypeScript entry points as its own process (node with tsx as a loader).
 * `BENCH_CPU_PROF=<dir>`: each such process writes a V8 CPU profile there when it exits.
 */
export function runTs(script: string, env: Record<string, string>): ChildProcess {
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  return spawn(process.execPath, [...profile, '--import', 'tsx', path.join(root, script)], {
    cwd: root,
    // As `npm start` and `npm run worker` start them.
    env: { ...APP_PROCESS_ENV, ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
