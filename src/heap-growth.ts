import { setFlagsFromString } from 'node:v8';

/**
 * Lets V8's heap grow only `percent` past what its last full collection kept, instead of V8's own
 * factor (up to 4× on a machine with memory to spare). A worker's data is short-lived: provider
 * pages, notification bodies, payloads on their way to and from Temporal. Left to V8, one poll of
 * 100,000 records grew the worker's heap to about 280 MB around 90 MB that was live, and the
 * process to 597–637 MB; at 10%, for a few more full collections, 491–514 MB (426–457 MB with
 * src/process-env.ts; docs/benchmarks.md). Process-wide: set before the worker starts its workflow threads, it holds
 * for them too. A V8 flag NODE_OPTIONS does not accept, hence set here. 0 leaves V8's default.
 */
export function limitHeapGrowth(percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`);
}
