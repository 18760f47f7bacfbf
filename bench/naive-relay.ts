// Baseline: receive a signed FreshBooks webhook, check it, POST it to the sink, answer. No Temporal,
// no durability: the ceiling for a relay on this machine.
import { createServer } from 'node:http';
import { freshbooksSignatureValid } from '../src/elements/freshbooks/signature';

const verifier = process.env.BENCH_VERIFIER!;
const sink = process.env.BENCH_SINK_URL!;

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const fields = [...new URLSearchParams(raw).entries()];
    if (!freshbooksSignatureValid(fields, raw, String(req.headers['x-freshbooks-hmac-sha256'] ?? ''), verifier)) {
      res.writeHead(401).end();
      return;
    }
    try {
      const r = await fetch(sink, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ raw: Object.fromEntries(fields) }) });
      res.writeHead(r.ok ? 200 : 502).end();
    } catch {
      res.writeHead(502).end();
    }
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
