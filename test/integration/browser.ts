import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

// The browser tests' Chromium: Debian's, driven by playwright-core (its own download cannot work here).
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  /** A fresh tab (its own session storage: signed out). */
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

/** Debian's Chromium, headless, with a fresh profile of its own (deleted on close); `extraArgs` add flags. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'element-events-chromium-'));
  // playwright-core takes the profile folder as launchPersistentContext's argument (it refuses --user-data-dir in args).
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
    viewport: { width: 1280, height: 900 },
  });
  // Generous: a 2-core machine under load answers slowly, and every wait here is for a condition.
  context.setDefaultTimeout(30_000);
  return {
    context,
    async newPage(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
