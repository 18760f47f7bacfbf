// Baseline: the bare Temporal floor. Each webhook is one signal (answered after it is durable) and
// one activity that POSTs it to the sink, on the same server as the real thing.
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { signedWebhookServer } from '../lib/signed-webhook-server';
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
  let n = 0;
  signedWebhookServer(process.env.BENCH_VERIFIER!, async (fields) => {
    try {
      await handles[n++ % SHARDS]!.signal(eventSignal, fields);
      return 200;
    } catch {
      return 503;
    }
  }).listen(Number(process.env.PORT), '127.0.0.1');
}

void main();
