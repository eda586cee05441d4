/** Global setup for lessons whose specs need no Redis: only lay out .solved/ (the finished lessons). */
import { prepareTarget } from './target';

export default function globalSetup(): void {
  prepareTarget();
}
