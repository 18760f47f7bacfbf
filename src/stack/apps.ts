import os from 'node:os';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import { APP_PROCESS_ENV } from '../process-env';
import { ManagedProcess, waitFor } from './process';

export const projectRoot = path.resolve(__dirname, '..', '..');

/**
 * A worker or API process of the app: node itself with tsx as a loader (not the tsx CLI), so that
 * the PID the stack holds is the app's and a SIGKILL reaches it, not a wrapper.
 */
export function appProcess(kind: 'worker' | 'api', n: number, env: NodeJS.ProcessEnv, logDir: string): ManagedProcess {
  const entry = kind === 'worker' ? path.join(projectRoot, 'src', 'worker.ts') : path.join(projectRoot, 'src', 'api', 'main.ts');
  return new ManagedProcess({
    name: `${kind}-${n}`,
    command: process.execPath,
    args: ['--import', 'tsx', entry],
    cwd: projectRoot,
    env: { ...APP_PROCESS_ENV, ...env },
    logFile: path.join(logDir, `${kind}-${n}.log`),
  });
}

/** The SDK's default worker identity (`pid@host`): how the server's poller list names a process. */
export const workerIdentity = (pid: number) => `${pid}@${os.hostname()}`;

/** The identities polling a task queue (workflow tasks) that the server saw within `withinMs`. */
export async function pollerIdentities(connection: Connection, namespace: string, taskQueue: string, withinMs = 60_000): Promise<string[]> {
  const queue = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue } });
  const now = Date.now();
  return (queue.pollers ?? [])
    .filter((p) => now - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < withinMs)
    .map((p) => p.identity ?? '')
    .filter(Boolean);
}

/** Waits until the worker process polls the task queue (the server lists its identity). */
export async function waitForWorker(connection: Connection, namespace: string, taskQueue: string, worker: ManagedProcess): Promise<void> {
  const started = Date.now();
  await waitFor(
    async () => {
      // Fresh polls only: a killed worker with the same PID would be listed for a while.
      const queue = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: taskQueue } });
      return (queue.pollers ?? []).some(
        (p) => p.identity === workerIdentity(worker.pid!) && Number(p.lastAccessTime?.seconds ?? 0) * 1000 >= started - 1000,
      );
    },
    `${worker.spec.name} (PID ${worker.pid}) polling ${taskQueue}`,
    180_000,
    () => (worker.running ? '' : `exited with ${worker.exitDescription}; see ${worker.spec.logFile}`),
  );
}

/** Waits until the API process answers its health check with 200. */
export async function waitForApi(port: number, api: ManagedProcess): Promise<void> {
  await waitFor(
    async () => (await fetch(`http://127.0.0.1:${port}/elements/api-v2/healthz`, { signal: AbortSignal.timeout(5000) })).status === 200,
    `${api.spec.name} (PID ${api.pid}) on port ${port}`,
    180_000,
    () => (api.running ? '' : `exited with ${api.exitDescription}; see ${api.spec.logFile}`),
  );
}
