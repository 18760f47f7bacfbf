// Preloaded (`node --import`) into a worker process by a test: the `tokensIssued` signal the token
// refresh sends never leaves the process, as if the worker died right after FreshBooks answered and the
// new tokens were recorded in the activity's heartbeat. The test SIGKILLs the process at that point.
// Plain JavaScript: the workflow threads inherit the preload and have no TypeScript loader.
import { createRequire } from 'node:module';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  // The worker's own (CommonJS) instance of the client.
  const { WorkflowClient } = createRequire(import.meta.url)('@temporalio/client');
  const signal = WorkflowClient.prototype._signalWorkflowHandler;
  WorkflowClient.prototype._signalWorkflowHandler = function (input) {
    if (input.signalName === 'tokensIssued') return new Promise(() => undefined);
    return signal.call(this, input);
  };
}
