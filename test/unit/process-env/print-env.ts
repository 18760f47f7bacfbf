// Started by process-env.test.ts as the benchmark starts the app: writes its environment where PRINT_ENV_TO says.
import { writeFileSync } from 'node:fs';

writeFileSync(process.env.PRINT_ENV_TO!, JSON.stringify(process.env));
