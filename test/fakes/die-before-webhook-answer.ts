// Preloaded (`node --import`) into an API process by a test: the process SIGKILLs itself at the moment
// it would answer a provider webhook 2xx, that is after the signal carrying the webhook is durable in
// Temporal and before the provider hears back. The provider then retries a webhook that did land.
// The receiver answers on Node's own response (src/api/webhooks.ts), so the hook is on its `end`.
import { ServerResponse } from 'node:http';

const end = ServerResponse.prototype.end;
ServerResponse.prototype.end = function (this: ServerResponse, ...args: unknown[]) {
  const { method, url } = this.req;
  if (method === 'POST' && /\/events\/[^/]+\/\d+(\?|$)/.test(url ?? '') && this.statusCode < 300) {
    process.kill(process.pid, 'SIGKILL');
  }
  return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
} as typeof end;
