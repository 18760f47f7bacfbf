import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ManagedProcess } from './process';

/**
 * The Temporal UI server's configuration: written in full (no templates, no environment read), so
 * the app's own TEMPORAL_* settings cannot leak into it. Loopback only: the UI has no login. With a
 * codec endpoint (the API's `/codec`), the browser sends it the operator's session cookie
 * (`includeCredentials`): payloads decode for a signed-in operator and for nobody else.
 */
export function uiConfig(opts: { temporalAddress: string; port: number; namespace: string; codecEndpoint?: string }): string {
  return `# Written by npm run stack (src/stack/ui-server.ts) on every start.
temporalGrpcAddress: ${opts.temporalAddress}
host: 127.0.0.1
port: ${opts.port}
publicPath: ""
enableUi: true
defaultNamespace: ${opts.namespace}
disableNewsFetch: true
cors:
  allowOrigins:
    - http://localhost:${opts.port}
    - http://127.0.0.1:${opts.port}
codec:
  endpoint: "${opts.codecEndpoint ?? ''}"
  includeCredentials: ${opts.codecEndpoint ? 'true' : 'false'}
`;
}

export function uiServerProcess(opts: {
  binary: string;
  rootDir: string;
  temporalAddress: string;
  port: number;
  namespace: string;
  codecEndpoint?: string;
  logFile: string;
}): ManagedProcess {
  mkdirSync(path.join(opts.rootDir, 'config'), { recursive: true });
  writeFileSync(path.join(opts.rootDir, 'config', 'stack.yaml'), uiConfig(opts));
  return new ManagedProcess({
    name: 'temporal-ui',
    command: opts.binary,
    args: ['--root', opts.rootDir, '--env', 'stack', 'start'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    logFile: opts.logFile,
  });
}
