import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RunningStack } from '../../src/stack/stack';
import { startBareCluster } from './bare-cluster';

/**
 * `npm run test:cluster`: one cluster for the whole run (PostgreSQL, the Temporal server built from
 * the Go module proxy, schemas by the SQL tool, the namespace with its retention, the search
 * attributes). Suites that reuse the integration harness run their workers and APIs against it
 * (TEST_TEMPORAL_ADDRESS); the fault suite starts a stack of its own, which it breaks.
 */
export default async function globalSetup(): Promise<void> {
  process.env.LOG_LEVEL ??= 'warn';
  const started = Date.now();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'element-events-cluster-'));
  // Builds the pinned binaries first when the machine has none (its progress on stdout).
  const stack = await startBareCluster(
    dir,
    () => undefined,
    (msg) => process.stdout.write(`${msg}\n`),
  ).catch((err: unknown) => {
    // The stack stopped what it had started; its folder (and the server's log) would be left behind.
    process.stdout.write(`cluster start failed; its logs: ${dir}/logs (kept)\n`);
    throw err;
  });
  process.stdout.write(
    `\ncluster for the run: Temporal ${stack.temporalAddress} on PostgreSQL ${stack.postgres.address}, up in ${Date.now() - started} ms\n`,
  );
  process.env.TEST_TEMPORAL_ADDRESS = stack.temporalAddress;
  process.env.TEST_DATA_DIR = dir;
  process.env.WORKFLOW_BUNDLE_PATH = path.join(dir, 'workflow-bundle.js');
  process.env.CLUSTER_TEST_RUN = '1';
  (globalThis as { __cluster?: RunningStack }).__cluster = stack;
}
