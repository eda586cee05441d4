/** Global setup for lessons whose specs need no Redis: only lay out the solutions target. */
import { prepareTarget } from './target';

export default function globalSetup(): void {
  prepareTarget();
}
