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
import { countQuery, finishSignal, heldTask } from './query-buffer/workflows';
import { report, until } from './harness';

jest.setTimeout(180_000);

const QUERIES = 3;

/**
 * Queries of one workflow that arrive while its workflow task is out wait in a buffer; the server's
 * default buffer holds one, and refuses the next RESOURCE_EXHAUSTED, which the client retries after
 * about 1 s. An instance is queried by the receiver (its state) and by each hand-off (its webhooks), so
 * under a flood that second was the webhook path's tail. The dev server `npm start` runs (and the
 * stack's dynamic config) hold more.
 */
async function queriesRefused(queryBuffer?: number): Promise<{ answered: number; refused: number; otherwise: string[] }> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'element-events-query-buffer-'));
  const dynamicConfig = queryBuffer === undefined ? undefined : { 'history.maxBufferedQueryCount': queryBuffer };
  let server: DevServer | undefined;
  let worker: Worker | undefined;
  let running: Promise<void> | undefined;
  let native: NativeConnection | undefined;
  let bare: Connection | undefined;
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
    bare = await Connection.connect({ address: server.address, interceptors: [] });
    const client = new Client({ connection: bare, namespace: 'default' });
    const handle = await client.workflow.start(heldTask, { taskQueue, workflowId: `held-${randomUUID()}` });
    await activities.holding; // the workflow task is out, held by its local activity
    let settledCount = 0;
    const asked = Array.from({ length: QUERIES }, () => handle.query(countQuery).finally(() => void settledCount++));
    if (queryBuffer !== undefined && queryBuffer < QUERIES) {
      // Those the buffer cannot hold are refused at once: wait for exactly them, then let the task go.
      await until(() => settledCount >= QUERIES - queryBuffer, 'the refused queries');
    } else {
      // All of them wait while the task is out; give them time to reach the server. One that came later
      // would be answered all the same, so this wait cannot make the test fail, only make it weaker.
      await new Promise((r) => setTimeout(r, 2_000));
    }
    activities.letGo();
    const settled = await Promise.allSettled(asked);
    await handle.signal(finishSignal);
    await handle.result();
    // Refused by the buffer: the server's RESOURCE_EXHAUSTED.
    const wasRefused = (s: PromiseSettledResult<number>) =>
      s.status === 'rejected' && (s.reason as { cause?: { code?: number } }).cause?.code === grpcStatus.RESOURCE_EXHAUSTED;
    const refused = settled.filter(wasRefused).length;
    const answered = settled.filter((s) => s.status === 'fulfilled' && s.value === 1).length;
    // Any other outcome, named, so a failure says what happened instead of only a count.
    const otherwise = settled
      .filter((s) => s.status === 'rejected' && !wasRefused(s))
      .map((s) => String((s as PromiseRejectedResult).reason));
    return { answered, refused, otherwise };
  } finally {
    activities.letGo();
    await bare?.close().catch(() => undefined);
    worker?.shutdown();
    await running?.catch(() => undefined);
    await native?.close().catch(() => undefined);
    await server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe("an instance's queries while its workflow task is out", () => {
  test("with a buffer of one, the server's default, all but one are refused (the setup reaches the buffer)", async () => {
    const result = await queriesRefused(1);
    report('a query buffer of one', { answered: result.answered, refused: result.refused });
    expect(result.refused).toBe(QUERIES - 1);
  });

  test('the dev server as npm start runs it answers every one', async () => {
    const result = await queriesRefused();
    report('our dev server', { answered: result.answered, refused: result.refused });
    expect(result).toEqual({ answered: QUERIES, refused: 0, otherwise: [] });
  });
});
