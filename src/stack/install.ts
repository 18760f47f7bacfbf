// `npm run stack:install`: builds (or finds, in the machine's cache) the Temporal server, its SQL tool
// and the UI server that `npm run stack` and `npm run test:cluster` run.
import { ensureBinaries } from './binaries';

const started = Date.now();
const binaries = ensureBinaries((msg) => console.log(msg));
for (const [name, file] of Object.entries(binaries)) console.log(`${name}: ${file}`);
console.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
