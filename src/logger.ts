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

export const logger = pino({
  level: process.env.LOG_LEVEL ?? 'info',
  base: { service: 'element-events' },
  redact: { paths: redact, censor: '[redacted]' },
});

export type Logger = typeof logger;
