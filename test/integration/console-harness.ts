import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Page, Request } from 'playwright-core';
export { launchBrowser, type Browser } from './browser';
import { call, TEST_ORGANIZATION_SECRET, TEST_USER_SECRET, type Stack } from './harness';

// The browser tests' helpers: the console built once, Debian's Chromium through playwright-core,
// signing in, and the screenshots each page leaves under test-output/console/.

const root = path.resolve(__dirname, '..', '..');
const consoleDir = path.join(root, 'console');
export const SCREENSHOT_DIR = path.join(root, 'test-output', 'console');

/** The newest modification time under a path (a file, or a folder's files). */
function newest(p: string): number {
  const s = statSync(p, { throwIfNoEntry: false });
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(p).map((name) => newest(path.join(p, name))));
}

function stale(): boolean {
  const built = statSync(path.join(consoleDir, 'dist', 'index.html'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = Math.max(
    ...['src', 'public', 'index.html', 'vite.config.ts'].map((p) => newest(path.join(consoleDir, p))),
    newest(path.join(root, 'package-lock.json')),
  );
  return built <= sources;
}

/**
 * Builds console/dist when it is missing or older than the console's sources (the API serves it).
 * Test files running side by side (jest without --runInBand) take turns through a lock folder, so a
 * build never empties dist under another file's browser or writes over another build.
 */
export function ensureConsoleBuilt(): void {
  if (!stale()) return;
  const lock = path.join(consoleDir, '.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left behind by a killed run is old: take it over.
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > 120_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`another test has been building the console for 2 minutes (${lock})`);
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!stale()) return;
    const vite = path.join(root, 'node_modules', 'vite', 'bin', 'vite.js');
    execFileSync(process.execPath, [vite, 'build', '--config', 'console/vite.config.ts', '--logLevel', 'warn'], {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  } finally {
    rmdirSync(lock);
  }
}

/**
 * Deletes the instances this stack's tests left running: once its worker stops nobody answers for
 * them, and the account's list (which later test files share) would wait for them.
 */
export async function deleteInstancesOf(stack: Stack): Promise<void> {
  const query = `WorkflowType = 'instanceWorkflow' AND ExecutionStatus = 'Running' AND TaskQueue = '${stack.taskQueue}'`;
  for await (const workflow of stack.client.workflow.list({ query })) {
    await call(stack, 'DELETE', `/instances/${workflow.workflowId.replace(/^instance-/, '')}`);
  }
}

/** The console's origin on this stack (the API serves it at /). */
export const consoleOrigin = (stack: Pick<Stack, 'api'>) => new URL(stack.api).origin;

export async function signIn(page: Page, origin: string, secrets = { user: TEST_USER_SECRET, organization: TEST_ORGANIZATION_SECRET }) {
  await page.goto(`${origin}/`);
  await page.getByLabel('User secret').fill(secrets.user);
  await page.getByLabel('Organization secret').fill(secrets.organization);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Instances' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Every request the page makes, to check that no secret ever travels in a URL. */
export function recordRequests(page: Page): Request[] {
  const requests: Request[] = [];
  page.on('request', (r) => requests.push(r));
  return requests;
}

/** What a control is described by (its hint and its error), as a screen reader reads it after the label. */
export async function descriptionOf(page: Page, control: ReturnType<Page['getByLabel']>): Promise<string> {
  const ids = (await control.getAttribute('aria-describedby')) ?? '';
  const parts = await Promise.all(
    ids
      .split(/\s+/)
      .filter(Boolean)
      .map((id) => page.locator(`[id="${id}"]`).innerText()),
  );
  return parts.join(' ');
}

/** The text in a status table's row (`<th scope=row>label</th><td>value</td>`). */
export async function factValue(page: Page, label: string): Promise<string> {
  return (
    await page
      .getByRole('row', { name: new RegExp(`^${label}\\b`) })
      .getByRole('cell')
      .innerText()
  ).trim();
}

/** True when the page is no wider than its viewport (nothing to scroll sideways on a phone). */
export async function fitsWidth(page: Page): Promise<boolean> {
  // Strings, not functions: the tests' type check has no DOM library.
  return (await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')) === true;
}

/** A notification's row in the log (not its open attempts below it), by the status it shows. */
export function notificationRow(page: Page, status: string) {
  return page
    .getByRole('table', { name: /^Notifications/ })
    .getByRole('row')
    .filter({ has: page.getByRole('rowheader') })
    .filter({ has: page.getByRole('cell', { name: status, exact: true }) });
}
