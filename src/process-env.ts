/**
 * Environment the app's processes are started with, for what only the environment can set: glibc
 * reads its malloc settings once, as the process starts. package.json's scripts and the Dockerfile
 * carry the same values (test/unit/process-env.test.ts keeps them in step); the stack and the
 * benchmark add these to the processes they start.
 *
 * MALLOC_MMAP_THRESHOLD_: allocations from 128 KiB up get pages of their own, returned to the system
 * when freed. That is glibc's starting value; left alone, glibc raises it each time such a block is
 * freed, and the worker's payloads (a delivery batch's input is up to about 150 KB) then land in its
 * heap between small long-lived blocks, which keep the heap from shrinking. A 100,000-record poll:
 * peak worker RSS 491–514 MB without, 426–457 MB with (docs/benchmarks.md).
 */
export const APP_PROCESS_ENV = { MALLOC_MMAP_THRESHOLD_: '131072' } as const;
