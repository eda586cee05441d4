/**
 * What the lesson-03 specs share beyond the kit (browser, items, processes: kit/spec/). Not a spec
 * itself (Jest runs *.spec.ts only).
 */
export const LESSON = '03-redis-store';
