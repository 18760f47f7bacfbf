// `npm run temporal:install`: fetches the pinned Temporal CLI and test server ahead of time (CI does this).
import { resolveTemporalTool, TEMPORAL_CLI, TEMPORAL_TEST_SERVER } from './cli';

for (const tool of [TEMPORAL_CLI, TEMPORAL_TEST_SERVER]) {
  console.log(`${tool.command}: ${resolveTemporalTool(tool)}`);
}
