// Baseline: receive a signed FreshBooks webhook, check it, POST it to the sink, answer. No Temporal,
// no durability: the ceiling for a relay on this machine.
import { signedWebhookServer } from './lib/signed-webhook-server';

const sink = process.env.BENCH_SINK_URL!;

signedWebhookServer(process.env.BENCH_VERIFIER!, async (fields) => {
  try {
    const r = await fetch(sink, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ raw: fields }) });
    return r.ok ? 200 : 502;
  } catch {
    return 502;
  }
}).listen(Number(process.env.PORT), '127.0.0.1');
