import { type Browser, chromium } from 'playwright-core';

/**
 * Flags for Debian's Chromium, headless, as root, on a machine with no network: without the
 * background-networking ones it keeps dialling hosts it cannot reach. See ../shared/NOTES.md.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Launches the system Chromium at `executablePath` (from `service('chromium')`). */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}
