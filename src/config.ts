import { z } from 'zod';
import type { ProviderUrls } from './elements/element';
import { elements } from './elements';
import { providerUrlsFrom } from './elements/urls';

// Development defaults, documented in the README; any deployment that faces users overrides them.
export const DEV_USER_SECRET = 'dev-user-secret';
export const DEV_ORGANIZATION_SECRET = 'dev-organization-secret';
export const DEV_OPERATOR_TOKEN = 'dev-operator-token';

const positiveNumber = z.coerce.number().positive();

const accountList = z.string().transform((text, ctx) => {
  const accounts: { user: string; organization: string }[] = [];
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [user, organization, ...rest] = pair.split(':');
    if (!user || !organization || rest.length) {
      ctx.addIssue({ code: 'custom', message: 'ELEMENTS_ACCOUNTS entries are user:organization, comma separated' });
      return z.NEVER;
    }
    accounts.push({ user, organization });
  }
  return accounts;
});

export const configSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    /** The API's listening address. Unset: loopback in development (its secrets are documented), all interfaces otherwise. */
    HOST: z.string().min(1).optional(),
    PUBLIC_URL: z.url().optional(),
    TEMPORAL_ADDRESS: z.string().min(1).optional(),
    TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
    TEMPORAL_TASK_QUEUE: z.string().min(1).default('element-events'),
    TEMPORAL_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
    TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
    /** Where the console links an instance's workflow. Unset: the embedded dev server's UI in development, no link otherwise. */
    TEMPORAL_UI_URL: z.url().optional(),
    /** mTLS to Temporal (a secured cluster, Temporal Cloud): PEM files of this client's certificate and key. */
    TEMPORAL_TLS_CERT: z.string().min(1).optional(),
    TEMPORAL_TLS_KEY: z.string().min(1).optional(),
    /** PEM file of the CA that signed the server's certificate (unset: the system's CAs). Set alone, TLS without a client certificate. */
    TEMPORAL_TLS_CA: z.string().min(1).optional(),
    /** An API key (Temporal Cloud), sent as a bearer token; turns TLS on. */
    TEMPORAL_API_KEY: z.string().min(1).optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    ELEMENTS_USER_SECRET: z.string().min(1).optional(),
    ELEMENTS_ORGANIZATION_SECRET: z.string().min(1).optional(),
    ELEMENTS_ACCOUNTS: accountList.default([]),
    /** Instances one account may have running (429 beyond). */
    MAX_INSTANCES_PER_ACCOUNT: z.coerce.number().int().min(1).default(1000),
    /** Failed logins one client address may make in a minute before it gets 429s. */
    AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(30),
    /** Express's `trust proxy`: unset, the client address is the socket's; behind a proxy, its hops or addresses. */
    TRUST_PROXY: z
      .string()
      .min(1)
      .refine((v) => v !== 'true', 'true would trust any X-Forwarded-For a client sends: give the hop count or the proxy addresses')
      .optional(),
    HTTP_HEADERS_TIMEOUT_SECONDS: positiveNumber.default(10),
    HTTP_REQUEST_TIMEOUT_SECONDS: positiveNumber.default(30),
    HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(4096),
    HTTP_MAX_CONNECTIONS_PER_ADDRESS: z.coerce.number().int().min(1).default(256),
    EVENTS_MIN_REFRESH_INTERVAL_MINUTES: positiveNumber.default(1),
    /** Lowers the history length at which instance workflows continue as new (tests use it). */
    INSTANCE_MAX_HISTORY_EVENTS: z.coerce.number().int().min(20).optional(),
    /** Lowers the webhook updates an instance's run takes before it continues as new (tests use it; Temporal's limit is 2,000). */
    INSTANCE_MAX_WEBHOOK_UPDATES: z.coerce.number().int().min(1).max(1_900).optional(),
    /** Seconds before the first delivery retry (Cloud Elements: 4); tests shorten the schedule. */
    DELIVERY_FIRST_RETRY_SECONDS: positiveNumber.default(4),
    /** Attempts before a notification is failed (Cloud Elements: 10). */
    DELIVERY_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(10),
    /** Seconds a callback has to answer a delivery (Cloud Elements: 30); tests shorten it. At most 30: each
     *  attempt's activity times out at 40 s, and the callback's silence must be the attempt's recorded failure. */
    CALLBACK_TIMEOUT_SECONDS: positiveNumber.pipe(z.number().max(30)).default(30),
    /** Workflows kept in the worker's cache: at least the instances a worker runs, or each poll replays
     *  its instance's whole history (the polling benchmark compares 500 and this default at 1,000
     *  instances). Set, not left to the SDK, whose default grows with the heap. Deliveries finish in
     *  their first task and leave the cache at once. */
    WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).default(2000),
    /** How far (%) V8 lets a worker's heap grow past what its last full collection kept (src/heap-growth.ts); 0: V8's own factor. */
    WORKER_HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(100).default(10),
    /** Seconds a registered callback waits for its verification post before the provider is asked to resend it. */
    VERIFICATION_RESEND_SECONDS: positiveNumber.default(120),
    /** Seconds before an instance asks a provider again after it refused (or failed) a callback registration or removal. */
    PROVIDER_RETRY_SECONDS: positiveNumber.default(60),
    /** Hours a replaced signing key (signature key, Standard Webhooks secret) still signs beside the new one. */
    SIGNING_KEY_GRACE_HOURS: z.coerce.number().min(0).max(720).default(24),
    /** Seconds a webhook is remembered: the same signed webhook again within them is acknowledged and dropped. */
    WEBHOOK_REPEAT_WINDOW_SECONDS: positiveNumber.pipe(z.number().max(86_400)).default(600),
    /** Webhooks for one instance carried by one signal at most (1 turns the grouping off; the benchmark compares). */
    WEBHOOK_SIGNAL_MAX_BATCH: z.coerce.number().int().min(1).max(1000).default(200),
    /** Endpoint health: seconds of only failures (across at least 5 notifications) before a callback's circuit opens. */
    ENDPOINT_OPEN_AFTER_SECONDS: positiveNumber.default(3600),
    /** Seconds before the first probe of an open circuit; the interval doubles after each probe up to ENDPOINT_MAX_PROBE_SECONDS. */
    ENDPOINT_PROBE_SECONDS: positiveNumber.default(60),
    ENDPOINT_MAX_PROBE_SECONDS: positiveNumber.default(3600),
    /** Hours of failure after which events are turned off (the reason shown in status). */
    ENDPOINT_DISABLE_AFTER_HOURS: positiveNumber.default(120),
    /** Refuse callback URLs on private and loopback addresses. Unset: on unless the embedded dev server runs. */
    CALLBACK_URLS_PUBLIC_ONLY: z.enum(['true', 'false']).optional(),
    /** 32 bytes, base64 or hex, or several comma separated (the first seals, all open: rotation). Unset: a key file in DATA_DIR. */
    SECRETS_KEY: z.string().min(1).optional(),
    /** Keys that encrypt Temporal payloads (32 bytes each, base64 or hex, comma separated; the first encrypts, all
     *  decrypt). Unset: keys derived from SECRETS_KEY's. */
    PAYLOAD_KEYS: z.string().min(1).optional(),
    /** Operators' credential (Bearer) for /metrics and the codec server; at least 16 characters. Unset: the
     *  development token in development, and those endpoints off (404) otherwise. */
    OPERATOR_TOKEN: z.string().min(16).optional(),
    /** `npm run worker`'s own GET /metrics port (behind OPERATOR_TOKEN). Unset: none (the API's /metrics serves `npm start`'s worker). */
    WORKER_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    /** The Temporal SDK's own worker metrics (its native Prometheus exporter, no credential). Unset: off. */
    TEMPORAL_SDK_METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    TEMPORAL_SDK_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** OpenTelemetry collector (OTLP/HTTP): traces go to `<it>/v1/traces`. Unset: no tracing at all. */
    OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
    /** The traces' `service.name` for this process. Unset: element-events-api / element-events-worker. */
    OTEL_SERVICE_NAME: z.string().min(1).optional(),
  })
  .transform((env) => {
    // Development: the embedded dev server and no accounts of one's own. Only then do the documented
    // development secrets let anyone in, and only then may callbacks reach private addresses.
    const development = !env.TEMPORAL_ADDRESS && !env.ELEMENTS_ACCOUNTS.length;
    const defaultAccount = {
      user: env.ELEMENTS_USER_SECRET ?? DEV_USER_SECRET,
      organization: env.ELEMENTS_ORGANIZATION_SECRET ?? DEV_ORGANIZATION_SECRET,
    };
    const usesDevSecret = defaultAccount.user === DEV_USER_SECRET || defaultAccount.organization === DEV_ORGANIZATION_SECRET;
    return {
      ...env,
      development,
      PUBLIC_URL: (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
      CALLBACK_URLS_PUBLIC_ONLY: env.CALLBACK_URLS_PUBLIC_ONLY ? env.CALLBACK_URLS_PUBLIC_ONLY === 'true' : !development,
      HOST: env.HOST ?? (development ? '127.0.0.1' : undefined),
      TEMPORAL_UI_URL: (env.TEMPORAL_UI_URL ?? (development ? `http://localhost:${env.TEMPORAL_UI_PORT}` : undefined))?.replace(/\/+$/, ''),
      OPERATOR_TOKEN: env.OPERATOR_TOKEN ?? (development ? DEV_OPERATOR_TOKEN : undefined),
      accounts: [...(usesDevSecret && !development ? [] : [defaultAccount]), ...env.ELEMENTS_ACCOUNTS],
    };
  });

/** The settings, plus the provider base URLs each element declares (`<PROVIDER>_API_URL`...). */
export type Config = z.infer<typeof configSchema> & { providerUrls: ProviderUrls };

/**
 * Why the API may not start with this configuration: outside development the development secrets are
 * refused, so an API with no other account would let nobody in and is a mistake.
 */
export function accountsProblem(config: Config): string | undefined {
  if (config.accounts.length) return undefined;
  return (
    'No account: the development secrets (dev-user-secret / dev-organization-secret) work only with the embedded ' +
    'Temporal dev server and no ELEMENTS_ACCOUNTS. Set ELEMENTS_USER_SECRET and ELEMENTS_ORGANIZATION_SECRET, or ELEMENTS_ACCOUNTS, ' +
    'since TEMPORAL_ADDRESS or ELEMENTS_ACCOUNTS is set.'
  );
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // An empty variable (FOO= in a shell or compose file) means "not set".
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const parsed = configSchema.safeParse(given);
  const { urls, problems } = providerUrlsFrom(given, elements.values());
  const lines = [...(parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? []), ...problems];
  if (!parsed.success || lines.length) throw new Error(`Invalid configuration:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  return { ...parsed.data, providerUrls: urls };
}
