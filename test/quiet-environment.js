// The Node test environment, with the app's logs held per test and printed only for a test that
// failed: a passing run reads as a list of tests and their count lines, not thousands of log lines.
const { TestEnvironment } = require('jest-environment-node');

const KEEP_LINES = 5000;

class QuietEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    // src/logger.ts writes here instead of stdout when it finds this array.
    this.global.__capturedLogs = [];
  }

  async handleTestEvent(event) {
    const logs = this.global.__capturedLogs;
    if (logs.length > KEEP_LINES) logs.splice(0, logs.length - KEEP_LINES);
    if (event.name === 'test_start') logs.length = 0;
    if (event.name === 'test_done' && event.test.errors.length && logs.length) {
      process.stderr.write(
        `\n--- logs of the failed test "${event.test.name}" (last ${logs.length} lines) ---\n${logs.join('')}--- end of logs ---\n`,
      );
    }
  }
}

module.exports = QuietEnvironment;
