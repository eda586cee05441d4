// A Jest reporter for `npm run verify`: one line per finished test, as it finishes, so that verify can
// stop a run as soon as it knows the answer (a mistake is caught at its first failing task) instead of
// waiting for Jest's JSON at the end (and so that `npm run bench` can tell when the first spec file
// started). Each line: "@@course " + JSON, with the time `t` in ms since the epoch. Plain CommonJS:
// Jest loads reporters without the TypeScript transform.
const PREFIX = '@@course ';

class StreamReporter {
  onTestFileStart(test) {
    emit({ kind: 'file-start', file: test.path });
  }

  onTestCaseResult(test, result) {
    emit({
      kind: 'test',
      file: test.path,
      fullName: result.fullName,
      status: result.status,
      failureMessages: result.failureMessages,
      duration: result.duration,
    });
  }

  onTestFileResult(test, result) {
    if (result.testExecError) {
      // Some failures (a worker that died, a hook that timed out) carry their text in stack, not message.
      const error = result.testExecError;
      const message = [error.message, error.stack, result.failureMessage].find(
        (text) => text && String(text).trim(),
      );
      emit({ kind: 'file-error', file: test.path, message: String(message ?? JSON.stringify(error)) });
    }
    emit({ kind: 'file-done', file: test.path });
  }

  onRunComplete() {
    emit({ kind: 'done' });
  }
}

function emit(event) {
  process.stdout.write(`${PREFIX}${JSON.stringify({ ...event, t: Date.now() })}\n`);
}

module.exports = StreamReporter;
