import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { logger } from '../../src/logger';
import * as workflows from '../../src/workflows';
import { installTemporalLogger } from '../../src/temporal/logging';
import { dataConverterFor } from '../../src/temporal/data-converter';
import { TEST_SECRETS_KEY } from './harness';

jest.setTimeout(120_000);
// The replay workers' own logs go where the app's do: shown only if a test fails.
installTemporalLogger(logger);

// Histories recorded from earlier versions of the workflows (test/replay/record-histories.ts). A
// change that makes one of them fail to replay would break workflows already running: guard it
// with patched() instead.
const dir = path.resolve(__dirname, '..', 'fixtures', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

/** The workflow type a recorded history is of (its first event starts it). */
const typeOf = (file: string): string =>
  (
    JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as {
      events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
    }
  ).events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';

test('every workflow type the worker runs has recorded histories to replay', () => {
  // The bundle's entry point lists every workflow type: a new one needs a recording (record-histories.ts).
  const types = Object.keys(workflows).sort();
  const recorded = new Map<string, number>();
  for (const f of files) recorded.set(typeOf(f), (recorded.get(typeOf(f)) ?? 0) + 1);
  process.stdout.write(`recorded histories: ${[...recorded].map(([t, n]) => `${t} ${n}`).join(', ')}\n`);
  expect(types).toEqual(['cleanupWorkflow', 'deliveryBatchWorkflow', 'deliveryLaneWorkflow', 'deliveryWorkflow', 'instanceWorkflow']);
  expect(types.filter((t) => !recorded.has(t))).toEqual([]);
});

// The workers' data converter, as a replaying worker has it: histories recorded before payloads were
// encrypted hold plain payloads, which its codec passes through; those recorded since (through the
// harness) are encrypted with the keys derived from the tests' SECRETS_KEY, which it holds.
const dataConverter = dataConverterFor({ SECRETS_KEY: TEST_SECRETS_KEY, DATA_DIR: '.' });

test.each(files)('%s replays on the current workflow code', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  await Worker.runReplayHistory(
    { workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! }, dataConverter, replayName: file },
    history,
  );
});
