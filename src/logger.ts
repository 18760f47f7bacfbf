import pino from 'pino';

// Paths that may carry secrets anywhere a log line includes a request, a config or an error.
const redact = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'configuration.password',
  'configuration["oauth.api.secret"]',
  'configuration["event.notification.signature.key"]',
  'token',
  'signatureKey',
];

/** Under the test suite (test/quiet-environment.js) lines are held per test, and shown only if it fails. */
const captured = (globalThis as { __capturedLogs?: string[] }).__capturedLogs;

export const logger = pino(
  {
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service: 'element-events' },
    redact: { paths: redact, censor: '[redacted]' },
  },
  Array.isArray(captured) ? { write: (line: string) => void captured.push(line) } : undefined,
);

export type Logger = typeof logger;
