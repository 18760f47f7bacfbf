import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { logger } from '../../src/logger';
import { startDevServerOnFreePorts, type DevServer } from '../../src/temporal/dev-server';
import { installTemporalLogger } from '../../src/temporal/logging';
import * as activities from './query-buffer/activities';
import { countQuery, heldTask } from './query-buffer/workflows';
import { report } from './harness';

jest.setTimeout(180_000);

const QUERIES = 3;

/**
 * Queries of one workflow that arrive while its workflow task is out wait in a buffer; the server's
 * default buffer holds one, and refuses the next RESOURCE_EXHAUSTED, which the client retries after
 * about 1 s. An instance is queried by the receiver (its state) and by each hand-off (its webhooks), so
 * under a flood that second was the webhook path's tail. The dev server `npm start` runs (and the
 * stack's dynamic config) hold more.
 */
async function queriesRefused(dynamicConfig?: Record<string, number>): Promise<{ answered: number; refused: number }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'element-events-query-buffer-'));
  let server: DevServer | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let native: NativeConnection | undefined;
  try {
    server = await startDevServerOnFreePorts({ dataDir, namespace: 'default', headless: true, dynamicConfig });
    installTemporalLogger(logger);
    const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./query-buffer/workflows'), logger: silent });
    const taskQueue = `query-buffer-${randomUUID()}`;
    native = await NativeConnection.connect({ address: server.address });
    worker = await Worker.create({ connection: native, namespace: 'default', taskQueue, workflowBundle: { code }, activities });
    running = worker.run();
    // No retry interceptor: a refused query shows as refused instead of answering a second later.
    const bare = await Connection.connect({ address: server.address, interceptors: [] });
    const client = new Client({ connection: bare, namespace: 'default' });
    const handle = await client.workflow.start(heldTask, { taskQueue, workflowId: `held-${randomUUID()}` });
    await activities.holding; // the workflow task is out, held by its local activity
    const asked = Array.from({ length: QUERIES }, () => handle.query(countQuery));
    // Let the queries reach the server and wait in its buffer before the task completes.
    await new Promise((r) => setTimeout(r, 2_000));
    activities.letGo();
    const settled = await Promise.allSettled(asked);
    await handle.result();
    const refused = settled.filter(
      (s) => s.status === 'rejected' && (s.reason as { cause?: { code?: number } }).cause?.code === grpcStatus.RESOURCE_EXHAUSTED,
    ).length;
    const answered = settled.filter((s) => s.status === 'fulfilled' && s.value === 1).length;
    await bare.close();
    return { answered, refused };
  } finally {
    worker?.shutdown();
    await running;
    await native?.close();
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe("an instance's queries while its workflow task is out", () => {
  test("the server's default buffer refuses all but one (the setup reaches the buffer)", async () => {
    const result = await queriesRefused({ 'history.maxBufferedQueryCount': 1 });
    report("server's default query buffer", result);
    expect(result.refused).toBe(QUERIES - 1);
  });

  test('the dev server as npm start runs it answers every one', async () => {
    const result = await queriesRefused();
    report('our dev server', result);
    expect(result).toEqual({ answered: QUERIES, refused: 0 });
  });
});
