import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { logger } from '../../src/logger';
import { installTemporalLogger } from '../../src/temporal/logging';

jest.setTimeout(120_000);
// The replay workers' own logs go where the app's do: shown only if a test fails.
installTemporalLogger(logger);

// Histories recorded from earlier versions of the workflows (test/replay/record-histories.ts). A
// change that makes one of them fail to replay would break workflows already running: guard it
// with patched() instead.
const dir = path.resolve(__dirname, '..', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('there are recorded histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(4);
});

test.each(files)('%s replays on the current workflow code', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  await Worker.runReplayHistory({ workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! }, replayName: file }, history);
});
