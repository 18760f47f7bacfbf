// Baseline: the bare Temporal floor. Each webhook is one signal (answered after it is durable) and
// one activity that POSTs it to the sink, on the same server as the real thing.
import { createServer } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { freshbooksSignatureValid } from '../../src/elements/freshbooks/signature';
import * as activities from './activities';
import { eventSignal } from './workflows';

const SHARDS = 50; // one workflow's history could not hold a minute of webhooks at these rates

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const address = process.env.TEMPORAL_ADDRESS!;
  const taskQueue = `floor-${process.pid}`;
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    taskQueue,
    workflowsPath: require.resolve('./workflows'),
    activities,
  });
  void worker.run();
  const client = new Client({ connection: await Connection.connect({ address }) });
  const handles = await Promise.all(
    Array.from({ length: SHARDS }, (_, i) =>
      client.workflow.start('floorWorkflow', { taskQueue, workflowId: `floor-${process.pid}-${i}` }),
    ),
  );
  const verifier = process.env.BENCH_VERIFIER!;
  let n = 0;
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
        await handles[n++ % SHARDS]!.signal(eventSignal, Object.fromEntries(fields));
        res.writeHead(200).end();
      } catch {
        res.writeHead(503).end();
      }
    });
  }).listen(Number(process.env.PORT), '127.0.0.1');
}

void main();
