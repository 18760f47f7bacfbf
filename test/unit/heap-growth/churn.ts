// Run as its own process by heap-growth.test.ts: `node --max-old-space-size=2048 --import tsx churn.ts <percent>`.
// A worker's kind of load: a long-lived set (records a poll holds) and batches that live a while
// (long enough to reach V8's old space) and then die (pages, payloads). Prints the peak heap size.
import { getHeapStatistics } from 'node:v8';
import { limitHeapGrowth } from '../../../src/heap-growth';

limitHeapGrowth(Number(process.argv[2]));
const held: { id: number; json: string }[] = [];
for (let i = 0; i < 200_000; i++) held.push({ id: i, json: `${'x'.repeat(150)}${i}` });
const inFlight: { n: number; body: string }[][] = [];
let peak = 0;
for (let round = 0; round < 400; round++) {
  inFlight.push(Array.from({ length: 5_000 }, (_, n) => ({ n, body: `${'y'.repeat(100)}${round}:${n}` })));
  if (inFlight.length > 30) inFlight.shift();
  peak = Math.max(peak, getHeapStatistics().total_heap_size);
}
process.stdout.write(JSON.stringify({ peakHeapMb: Math.round(peak / 2 ** 20), held: held.length }));
