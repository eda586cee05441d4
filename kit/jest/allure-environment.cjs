// The specs' environment (kit/jest/environment.cjs) recording Allure results, for `npm run grade`.
const { createJestEnvironment } = require('allure-jest/factory');

module.exports = createJestEnvironment(require('./environment.cjs'));
