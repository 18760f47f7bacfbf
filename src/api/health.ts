import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';

const WORKER_SEEN_WITHIN_MS = 60_000;
/** A health check answers within this, whatever Temporal does (the SDK would otherwise retry for long). */
const CHECK_DEADLINE_MS = 3_000;

type Part = 'temporal' | 'namespace' | 'worker';

const reason = (err: unknown) => (err instanceof Error ? err.message : String(err)).slice(0, 300);

/**
 * `GET /healthz`: 200 only when Temporal answers, the namespace exists and a worker polls our task
 * queue. A 503 names the parts that are down (`down`) and why (`problems`): Temporal's frontend
 * (unreachable, refused credentials), the namespace, or the workers.
 */
export function healthRouter({ client, config }: { client: Client; config: Config }): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    const problems: Partial<Record<Part, string>> = {};
    let temporal = false;
    let worker = false;
    const deadline = () => Date.now() + CHECK_DEADLINE_MS;
    try {
      await client.connection.withDeadline(deadline(), () => client.workflowService.getSystemInfo({}));
      temporal = true;
    } catch (err) {
      problems.temporal = `Temporal at ${config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`} did not answer: ${reason(err)}`;
    }
    if (temporal) {
      try {
        const queue = await client.connection.withDeadline(deadline(), () =>
          client.workflowService.describeTaskQueue({
            namespace: config.TEMPORAL_NAMESPACE,
            taskQueue: { name: config.TEMPORAL_TASK_QUEUE },
          }),
        );
        const now = Date.now();
        worker = (queue.pollers ?? []).some((p) => {
          const seconds = Number(p.lastAccessTime?.seconds ?? 0);
          return now - seconds * 1000 < WORKER_SEEN_WITHIN_MS;
        });
        if (!worker)
          problems.worker = `no worker has polled task queue ${config.TEMPORAL_TASK_QUEUE} in the last ${WORKER_SEEN_WITHIN_MS / 1000} s`;
      } catch (err) {
        const text = reason(err);
        if (/namespace/i.test(text) && /not found/i.test(text)) problems.namespace = `namespace ${config.TEMPORAL_NAMESPACE}: ${text}`;
        else problems.worker = `the task queue could not be described: ${text}`;
      }
    }
    const ok = temporal && worker;
    const body = { status: ok ? 'ok' : 'unavailable', api: true, temporal, worker };
    if (ok) res.status(200).json(body);
    else res.status(503).json({ ...body, down: Object.keys(problems), problems });
  });
  return router;
}
