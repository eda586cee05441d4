/**
 * The headless Chromium the shop's browser specs and `npm run shop:screenshots` drive, through
 * playwright-core (no browser download: it runs the one the machine has).
 *
 * Which executable, in order: CHROMIUM_PATH, then `chromium`, `chromium-browser`, `google-chrome` on
 * PATH. None: one line that says how to install it (CI installs Debian's `chromium` in .ci/run).
 */
import { type Browser, chromium } from 'playwright-core';
import { isExecutable, onPath } from '../executables';

const NAMES = ['chromium', 'chromium-browser', 'google-chrome'];

export const INSTALL_CHROMIUM =
  'No Chromium for the shop specs: install one (Debian/Ubuntu: sudo apt-get install chromium; macOS: brew install --cask chromium) or set CHROMIUM_PATH=/path/to/chromium.';

/**
 * Headless on a machine with no network and no display: no sandbox (containers, root), no GPU, and
 * none of the background connections (updates, sync, QUIC probes) Chromium otherwise opens and sees
 * refused, many at a time. playwright-core gives every launch a new, empty user-data dir.
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

export class ChromiumUnavailableError extends Error {
  override readonly name = 'ChromiumUnavailableError';
  constructor(message: string) {
    super(message);
    this.stack = message; // one line is the whole story: no stack under it
  }
}

export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const pinned = env.CHROMIUM_PATH;
  if (pinned) {
    if (!isExecutable(pinned))
      throw new ChromiumUnavailableError(
        `CHROMIUM_PATH=${pinned} is not an executable file. ${INSTALL_CHROMIUM}`,
      );
    return pinned;
  }
  for (const name of NAMES) {
    const found = onPath(name, env);
    if (found) return found;
  }
  throw new ChromiumUnavailableError(INSTALL_CHROMIUM);
}

export async function launchChromium(): Promise<Browser> {
  const executablePath = findChromium();
  try {
    return await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30_000 });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    throw new ChromiumUnavailableError(`${executablePath} did not start headless: ${reason}`);
  }
}
