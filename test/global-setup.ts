import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServerOnFreePorts } from '../src/temporal/dev-server';
import { resolveTemporalTool, TEMPORAL_TEST_SERVER } from '../src/temporal/cli';
import { FAILURE_CONVERTER_PATH } from '../src/temporal/data-converter';

/** One real Temporal dev server (and one workflow bundle) for the whole run. */
export default async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'element-events-test-'));
  process.env.LOG_LEVEL ??= 'warn';
  process.env.TEMPORAL_TEST_SERVER_BIN = resolveTemporalTool(TEMPORAL_TEST_SERVER);
  const server = await startDevServerOnFreePorts({
    headless: true,
    dataDir: dir,
    namespace: 'default',
  });
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    // The workers' failure converter (messages encrypted) runs inside the workflows too.
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
  const bundlePath = path.join(dir, 'workflow-bundle.js');
  writeFileSync(bundlePath, code);
  process.env.TEST_TEMPORAL_ADDRESS = server.address;
  process.env.TEST_DATA_DIR = dir;
  process.env.WORKFLOW_BUNDLE_PATH = bundlePath;
  (globalThis as { __temporal?: typeof server }).__temporal = server;
}
