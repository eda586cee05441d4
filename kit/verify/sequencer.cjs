// Jest's order for verify's batches: the order verify gives (COURSE_BATCH_ORDER, a JSON list of spec
// paths, costliest first), not Jest's own guess (file size, for paths it has never run). With the
// long runs first, the short ones fill the workers' gaps at the end instead of one long run ending
// the batch alone.
const { readFileSync } = require('node:fs');
const Sequencer = require('@jest/test-sequencer').default;

class GivenOrder extends Sequencer {
  sort(tests) {
    const file = process.env.COURSE_BATCH_ORDER;
    if (!file) return super.sort(tests);
    const rank = new Map(JSON.parse(readFileSync(file, 'utf8')).map((path, i) => [path, i]));
    const of = (test) => rank.get(test.path) ?? rank.size;
    return [...tests].sort((a, b) => of(a) - of(b));
  }
}

module.exports = GivenOrder;
