import { rmSync } from 'node:fs';
import type { RunningStack } from '../../src/stack/stack';

export default async function globalTeardown(): Promise<void> {
  await (globalThis as { __cluster?: RunningStack }).__cluster?.stop();
  if (process.env.TEST_DATA_DIR) rmSync(process.env.TEST_DATA_DIR, { recursive: true, force: true });
}
