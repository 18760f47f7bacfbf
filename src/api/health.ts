import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';

const WORKER_SEEN_WITHIN_MS = 60_000;

/** `GET /healthz`: 200 only when Temporal answers and a worker polls our task queue. */
export function healthRouter({ client, config }: { client: Client; config: Config }): Router {
  const router = Router();
  router.get('/healthz', async (_req, res) => {
    let temporal = false;
    let worker = false;
    try {
      await client.workflowService.getSystemInfo({});
      temporal = true;
      const queue = await client.workflowService.describeTaskQueue({
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: { name: config.TEMPORAL_TASK_QUEUE },
      });
      const now = Date.now();
      worker = (queue.pollers ?? []).some((p) => {
        const seconds = Number(p.lastAccessTime?.seconds ?? 0);
        return now - seconds * 1000 < WORKER_SEEN_WITHIN_MS;
      });
    } catch {
      // reported as unavailable below
    }
    const ok = temporal && worker;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', api: true, temporal, worker });
  });
  return router;
}
