/**
 * Headless Debian chromium driven by playwright-core, for the demo e2e tests. CI installs it with
 * `apt-get install -y chromium`. Outside CI the tests skip (with this message) when it is missing;
 * under CI (`CI` set and not `false`/`0`) a missing chromium is an error, so a CI run cannot pass
 * without running them.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** True when the environment says this is a CI run (`CI=true`, `CI=1`, any value but empty, `false` or `0`). */
export function isCi(env: Record<string, string | undefined> = process.env): boolean {
  const v = env.CI?.trim().toLowerCase();
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
}

/**
 * Why the demo tests must skip (a message), or null when chromium is there. Under CI a missing
 * chromium throws instead, with the message saying how to install it.
 */
export function chromiumSkipReason(path: string, env: Record<string, string | undefined> = process.env, exists: (p: string) => boolean = existsSync): string | null {
  if (exists(path)) return null;
  const how = `no chromium at ${path}: install it with \`apt-get install -y chromium\`, or set CHROMIUM_PATH to a chromium binary`;
  if (isCi(env)) throw new Error(`demo e2e tests cannot run under CI: ${how}`);
  return `demo e2e skipped: ${how}`;
}

export const chromiumMissing = chromiumSkipReason(CHROMIUM);

export interface DemoBrowser {
  page: Page;
  /** Console errors, page errors and failed requests: the page must produce none. */
  problems: string[];
  close(): Promise<void>;
}

export async function openBrowser(opts: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {}): Promise<DemoBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'verdict-demo-chromium-'));
  const context: BrowserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    colorScheme: opts.colorScheme ?? 'light',
    viewport: opts.viewport ?? { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A run stopped on purpose aborts its fetch; that is not a problem.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`);
  });
  return {
    page,
    problems,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export type { Browser };
