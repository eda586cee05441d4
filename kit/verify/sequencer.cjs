// Jest test sequencer for `npm run verify`'s mistake runs: the spec files in the order verify gives in
// COURSE_SPEC_ORDER (a JSON list of paths), cheapest first, so that a run stopped at its first failing
// task never starts the costly files. Files not in the list keep Jest's order, after the listed ones.
const Sequencer = require('@jest/test-sequencer').default;

class VerifySequencer extends Sequencer {
  sort(tests) {
    const order = JSON.parse(process.env.COURSE_SPEC_ORDER ?? '[]');
    const rank = (test) => {
      const index = order.findIndex((path) => test.path.endsWith(path));
      return index < 0 ? order.length : index;
    };
    return [...tests].sort((a, b) => rank(a) - rank(b));
  }
}

module.exports = VerifySequencer;
