/**
 * Allure Report 3 config for `npm run grade` (kit/grade/report.ts passes it with --config).
 *
 * - one self-contained index.html (awesome plugin, singleFile);
 * - the tree: lesson (epic) → topic (feature) → task, each named with the points it earned;
 * - categories that sort failures by cause, shared with grade.json (categories.json): an instructor
 *   sees at a glance who never started ("Not implemented yet") and who is close ("Assertion failed");
 * - the score at the top of the report (variables), passed by the grader in GRADE_ALLURE.
 */
import { readFileSync } from 'node:fs';

const run = JSON.parse(process.env.GRADE_ALLURE ?? '{}');
const causes = JSON.parse(readFileSync(new URL('./categories.json', import.meta.url), 'utf8'));
const name = run.name ?? 'Course grade';

export default {
  name,
  variables: run.variables ?? {},
  categories: causes.map((cause) => ({
    id: cause.id,
    name: cause.name,
    matchers: { statuses: ['failed', 'broken'], message: new RegExp(cause.message, 'm') },
    // Per lesson, not per message: every message carries its task's hint, so no two are alike.
    groupBy: [{ label: 'epic' }],
    groupByMessage: false,
    expand: true,
  })),
  plugins: {
    awesome: {
      options: {
        reportName: name,
        singleFile: true,
        groupBy: ['epic', 'feature'],
        defaultSortBy: 'name,asc',
      },
    },
  },
};
