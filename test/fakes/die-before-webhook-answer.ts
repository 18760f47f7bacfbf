// Preloaded (`node --import`) into an API process by a test: the process SIGKILLs itself at the moment
// it would answer a provider webhook 2xx, that is after the signal carrying the webhook is durable in
// Temporal and before the provider hears back. The provider then retries a webhook that did land.
import express from 'express';

const json = express.response.json;
express.response.json = function (this: express.Response, body?: unknown) {
  if (this.req.method === 'POST' && /\/events\/[^/]+\/\d+$/.test(this.req.path) && this.statusCode < 300) {
    process.kill(process.pid, 'SIGKILL');
  }
  return json.call(this, body);
};
