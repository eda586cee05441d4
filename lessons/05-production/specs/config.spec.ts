/**
 * Lesson 05 — configuration from the environment. The same code runs on a laptop, in CI and on ten
 * production servers: what differs lives in the environment, is checked before anything starts, and
 * a wrong environment is reported in full, at once — without leaking a secret into the logs.
 * Run: npm test lessons/05
 */
import {
  freePort,
  PROCESS_TIMEOUT_MS,
  throwIfNotImplemented,
  useServerProcesses,
} from '../../../kit/spec/processes';
import { lesson } from '../../../kit/spec/task';
import { type Config, ConfigError, DEFAULTS, DEV_SECRET, type Env, loadConfig } from '../src/config';
import { LESSON, runUntilExit } from './support';

const { topic, task } = lesson(LESSON);
const servers = useServerProcesses();

const STEP_1 = 'Step 1';
const REDIS_URL = 'redis://127.0.0.1:6379';

/** The problems loadConfig reports for `env`; fails the task if it accepts it. */
function problemsWith(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}: it should have thrown a ConfigError.`);
}

topic('when the environment is right', () => {
  task(
    'with only REDIS_URL set, every other setting has its default',
    {
      points: 2,
      step: STEP_1,
      severity: 'blocker',
      hint: 'Start from DEFAULTS and DEV_SECRET; SERVER_ID defaults to "server-" + the port, ENABLE_CHAOS to off.',
    },
    () => {
      expect(loadConfig({ REDIS_URL })).toEqual<Config>({
        production: false,
        port: DEFAULTS.port,
        serverId: `server-${DEFAULTS.port}`,
        redisUrl: REDIS_URL,
        sessionSecrets: [DEV_SECRET],
        sessionTtlSeconds: DEFAULTS.sessionTtlSeconds,
        sessionPrefix: DEFAULTS.sessionPrefix,
        drainTimeoutMs: DEFAULTS.drainTimeoutMs,
        enableChaos: false,
      });
    },
  );

  task(
    'every setting is read from its variable; SESSION_SECRET is a comma-separated list',
    {
      points: 2,
      step: STEP_1,
      hint: 'Numbers arrive as strings: convert them. Split SESSION_SECRET on commas and trim each secret.',
    },
    () => {
      const env = {
        NODE_ENV: 'production',
        PORT: '8080',
        SERVER_ID: 'web-7.eu_west',
        REDIS_URL: 'rediss://:pa55word@redis.internal:6380/2',
        SESSION_SECRET: ' new-secret-2025 , old-secret-2024 ',
        SESSION_TTL_SECONDS: '900',
        SESSION_PREFIX: 'shop:sess:',
        DRAIN_TIMEOUT_MS: '25000',
        ENABLE_CHAOS: '0',
      };

      expect(loadConfig(env)).toEqual<Config>({
        production: true,
        port: 8080,
        serverId: 'web-7.eu_west',
        redisUrl: 'rediss://:pa55word@redis.internal:6380/2',
        sessionSecrets: ['new-secret-2025', 'old-secret-2024'],
        sessionTtlSeconds: 900,
        sessionPrefix: 'shop:sess:',
        drainTimeoutMs: 25_000,
        enableChaos: false,
      });
    },
  );

  task(
    'an empty variable counts as a missing one',
    {
      points: 1,
      step: STEP_1,
      hint: '`PORT=` in a compose file gives the empty string, not undefined: treat both as "not set".',
    },
    () => {
      const config = loadConfig({
        REDIS_URL,
        PORT: '',
        SESSION_TTL_SECONDS: '',
        SESSION_SECRET: '',
        ENABLE_CHAOS: '',
      });

      expect(config).toMatchObject({
        port: DEFAULTS.port,
        sessionTtlSeconds: DEFAULTS.sessionTtlSeconds,
        sessionSecrets: [DEV_SECRET],
        enableChaos: false,
      });
    },
  );
});

topic('when one setting is wrong, it is refused and named', () => {
  const wrong: Array<[string, string, string]> = [
    ['SESSION_TTL_SECONDS', 'abc', 'not a number'],
    ['SESSION_TTL_SECONDS', '0', 'zero: a session that expires at once'],
    ['SESSION_TTL_SECONDS', '1.5', 'not a whole number'],
    ['SESSION_TTL_SECONDS', '30m', 'a unit the code does not read'],
    ['SESSION_TTL_SECONDS', '-60', 'negative'],
    ['PORT', '70000', 'above 65535'],
    ['DRAIN_TIMEOUT_MS', 'soon', 'not a number'],
    ['SERVER_ID', 'web 1', 'a space (a Redis connection name cannot have one)'],
    ['ENABLE_CHAOS', 'yes', 'neither 1 nor 0'],
    ['REDIS_URL', 'localhost:6379', 'not a URL'],
    ['REDIS_URL', 'http://127.0.0.1:6379', 'not a redis:// URL'],
    ['SESSION_SECRET', ' , ', 'a list of no secret'],
  ];

  for (const [variable, value, why] of wrong) {
    task(
      `${variable}=${JSON.stringify(value)} (${why}) is one problem, naming ${variable}`,
      {
        points: 1,
        step: STEP_1,
        hint:
          'Check each variable and push one sentence naming it onto a list of problems; throw ' +
          'new ConfigError(problems) at the end. Digits only for numbers: /^\\d+$/ before Number().',
      },
      () => {
        const problems = problemsWith({ REDIS_URL, [variable]: value });

        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain(variable);
      },
    );
  }
});

topic('in production (NODE_ENV=production)', () => {
  const production: Array<[string, Env, string]> = [
    ['SESSION_SECRET is required', { REDIS_URL, NODE_ENV: 'production' }, 'SESSION_SECRET'],
    [
      'the development secret is refused, even in a list',
      { REDIS_URL, NODE_ENV: 'production', SESSION_SECRET: `real-secret-2025,${DEV_SECRET}` },
      'SESSION_SECRET',
    ],
    [
      'ENABLE_CHAOS=1 is refused',
      { REDIS_URL, NODE_ENV: 'production', SESSION_SECRET: 'real-secret-2025', ENABLE_CHAOS: '1' },
      'ENABLE_CHAOS',
    ],
  ];

  for (const [title, env, variable] of production) {
    task(
      title,
      {
        points: 1,
        step: STEP_1,
        severity: 'critical',
        hint: 'A forgotten secret in production must stop the deploy, not sign every cookie with a string from GitHub.',
      },
      () => {
        const problems = problemsWith(env);

        expect(problems).toHaveLength(1);
        expect(problems[0]).toContain(variable);
      },
    );
  }
});

topic('when several settings are wrong', () => {
  task(
    'every problem is reported at once, in one ConfigError',
    {
      points: 2,
      step: STEP_1,
      severity: 'critical',
      hint: 'Do not throw at the first problem: collect them all, so one failed deploy tells you everything.',
    },
    () => {
      const env = { NODE_ENV: 'production', SESSION_TTL_SECONDS: 'abc', PORT: 'http', SERVER_ID: 'a b' };

      const problems = problemsWith(env);

      expect(problems).toHaveLength(5);
      for (const variable of ['REDIS_URL', 'SESSION_SECRET', 'SESSION_TTL_SECONDS', 'PORT', 'SERVER_ID']) {
        expect(problems).toContainEqual(expect.stringContaining(variable));
      }
    },
  );

  task(
    'no problem shows a secret: neither a SESSION_SECRET nor a password in REDIS_URL',
    {
      points: 1,
      step: STEP_1,
      severity: 'critical',
      hint: 'Logs are read by many people and kept for months: say what is wrong with a secret, never what it is.',
    },
    () => {
      let message = '';
      try {
        loadConfig({
          NODE_ENV: 'production',
          REDIS_URL: 'http://admin:hunter2@redis.internal:6379',
          SESSION_SECRET: `s3cr3t-value-2025,${DEV_SECRET}`,
        });
      } catch (error) {
        message = error instanceof Error ? error.message : String(error);
      }

      expect(message).toMatch(/REDIS_URL/);
      expect(message).toMatch(/SESSION_SECRET/);
      expect(message).not.toContain('hunter2');
      expect(message).not.toContain('s3cr3t-value-2025');
    },
  );

  task(
    'the server process prints every problem, without a stack trace, and exits 1',
    {
      points: 2,
      step: STEP_1,
      severity: 'critical',
      timeout: PROCESS_TIMEOUT_MS,
      hint:
        'server.ts prints a ConfigError’s message and exits 1 (given): loadConfig must throw ONE ConfigError ' +
        'listing all the problems, before anything connects.',
    },
    async () => {
      const { exit, output } = await runUntilExit(
        servers,
        { NODE_ENV: 'production', SESSION_TTL_SECONDS: 'abc', PORT: String(await freePort()) },
        10_000,
      );
      throwIfNotImplemented(output);

      if (!exit)
        throw new Error(`The server was still running 10 s after a bad start. It printed:\n${output}`);
      expect(exit).toEqual({ code: 1, signal: null });
      expect(output).toMatch(/REDIS_URL/);
      expect(output).toMatch(/SESSION_TTL_SECONDS/);
      expect(output).toMatch(/SESSION_SECRET/);
      expect(output).not.toMatch(/^\s+at /m);
      expect(output).not.toMatch(/listening/);
    },
  );
});
