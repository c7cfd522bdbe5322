/**
 * Debian's chromium driven by playwright-core for the browser tests (no browser download: the
 * network may be closed). WebGPU runs headless there on SwiftShader (Chromium's software Vulkan).
 * `MATTING_CHROMIUM` names another Chromium binary. When none is installed the tests skip with
 * `CHROMIUM_MISSING` as the reason; `npm run setup` installs it on Debian as root.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.MATTING_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_MISSING = existsSync(CHROMIUM)
  ? null
  : `no Chromium at ${CHROMIUM}: 'npm run setup' installs Debian's chromium when run as root on Debian (or set MATTING_CHROMIUM)`;

/** Flags: WebGPU on (unsafe: Linux's is behind a flag), and nothing that reaches the network. */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--no-first-run',
  '--no-default-browser-check',
];

export interface Chromium {
  browser: Browser;
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh Chromium with its own profile folder, accepting downloads. */
export async function launchChromium(): Promise<Chromium> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'matting-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1200, height: 1400 },
  });
  return {
    browser: context.browser()!,
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
