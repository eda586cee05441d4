/**
 * Lesson 05 — configuration from the environment (README Step 1). The same code runs on a laptop, in
 * CI and on ten production servers: what differs lives in the environment, is checked before anything
 * starts, and a wrong environment is reported in full, at once — without leaking a secret into the logs.
 * Everything here runs loadConfig in this process, but for the last task: a real server process
 * started with a bad environment.
 * Run: npm test lessons/05
 */
import {
  freePort,
  PROCESS_TIMEOUT_MS,
  throwIfNotImplemented,
  useServerProcesses,
} from '../../../kit/spec/processes';
import { lesson } from '../../../kit/spec/task';
import { startedOnce } from '../../../kit/spec/wait';
import { type Config, ConfigError, DEFAULTS, DEV_SECRET, type Env, loadConfig } from '../src/config';
import { LESSON, runUntilExit } from './support';

const { topic, task } = lesson(LESSON);
const servers = useServerProcesses();

const STEP_1 = 'Step 1';
const REDIS_URL = 'redis://127.0.0.1:6379';

/** The problems loadConfig reports for `env`; fails the task if it accepts it. */
function problemsWith(env: Env): string[] {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error(
    `loadConfig accepted ${JSON.stringify(env)} and returned ${JSON.stringify(config)}: it should have thrown a ConfigError.`,
  );
}

/** loadConfig's answer for `env`, or a clear failure naming the problems it reported. */
function configFor(env: Env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new Error(
        `loadConfig refused ${JSON.stringify(env)}, which is a good environment:\n${error.message}`,
      );
    }
    throw error;
  }
}

/** A real server process with a bad environment, started as the file begins (it runs beside the
 * in-process tasks): it must print every problem and exit 1. */
const refusedStart = startedOnce(async () =>
  runUntilExit(
    servers,
    { NODE_ENV: 'production', SESSION_TTL_SECONDS: 'abc', PORT: String(await freePort()) },
    10_000,
  ),
);
beforeAll(() => refusedStart.begin());

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
      expect(configFor({ REDIS_URL })).toEqual<Config>({
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
    'every setting is read from its variable; SESSION_SECRET is a comma-separated list, in order',
    {
      points: 2,
      step: STEP_1,
      hint: 'Numbers arrive as strings: convert them. Split SESSION_SECRET on commas, trim each secret, keep the order.',
    },
    () => {
      const env = {
        NODE_ENV: 'production',
        PORT: '8080',
        SERVER_ID: 'web-7.eu_west',
        REDIS_URL: 'rediss://:pa55word@redis.internal:6380/2',
        SESSION_SECRET: ' new-secret-2025 , old-secret-2024 ,, ',
        SESSION_TTL_SECONDS: '900',
        SESSION_PREFIX: 'shop:sess:',
        DRAIN_TIMEOUT_MS: '25000',
        ENABLE_CHAOS: '0',
      };

      expect(configFor(env)).toEqual<Config>({
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
    'an empty variable counts as a missing one, and surrounding spaces are ignored',
    {
      points: 1,
      step: STEP_1,
      hint:
        '`PORT=` in a compose file gives the empty string, not undefined: treat it as "not set". Trim ' +
        'every value before you check it.',
    },
    () => {
      const empty = configFor({
        REDIS_URL,
        PORT: '',
        SERVER_ID: ' ',
        SESSION_TTL_SECONDS: '',
        SESSION_SECRET: '',
        SESSION_PREFIX: '',
        ENABLE_CHAOS: '',
        DRAIN_TIMEOUT_MS: '  ',
      });
      const spaced = configFor({
        REDIS_URL: ` ${REDIS_URL} `,
        PORT: ' 8080 ',
        SERVER_ID: ' web-1 ',
        SESSION_TTL_SECONDS: ' 30 ',
        ENABLE_CHAOS: ' 1 ',
      });

      expect(empty).toMatchObject({
        port: DEFAULTS.port,
        serverId: `server-${DEFAULTS.port}`,
        sessionTtlSeconds: DEFAULTS.sessionTtlSeconds,
        sessionSecrets: [DEV_SECRET],
        sessionPrefix: DEFAULTS.sessionPrefix,
        drainTimeoutMs: DEFAULTS.drainTimeoutMs,
        enableChaos: false,
      });
      expect(spaced).toMatchObject({
        redisUrl: REDIS_URL,
        port: 8080,
        serverId: 'web-1',
        sessionTtlSeconds: 30,
        enableChaos: true,
      });
    },
  );

  task(
    'the limits themselves are accepted: PORT 0 and 65535, a TTL and a drain timeout of 1',
    {
      points: 1,
      step: STEP_1,
      hint: 'PORT runs from 0 to 65535, both included; the TTL and the drain timeout start at 1. Check < and <=.',
    },
    () => {
      const low = configFor({ REDIS_URL, PORT: '0', SESSION_TTL_SECONDS: '1', DRAIN_TIMEOUT_MS: '1' });
      const high = configFor({ REDIS_URL, PORT: '65535' });

      expect(low).toMatchObject({ port: 0, sessionTtlSeconds: 1, drainTimeoutMs: 1 });
      expect(high.port).toBe(65_535);
      expect(high.serverId).toBe('server-65535');
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
    ['SESSION_TTL_SECONDS', '1e3', 'digits only: Number() would read 1000'],
    ['SESSION_TTL_SECONDS', '+30', 'digits only: a sign is not a digit'],
    ['PORT', '65536', 'one above 65535'],
    ['PORT', '-1', 'below 0'],
    ['PORT', '0x10', 'digits only: Number() would read 16'],
    ['PORT', '80.0', 'digits only: Number() would read 80'],
    ['DRAIN_TIMEOUT_MS', 'soon', 'not a number'],
    ['DRAIN_TIMEOUT_MS', '0', 'zero'],
    ['DRAIN_TIMEOUT_MS', '3 000', 'digits only: a space inside'],
    ['SERVER_ID', 'web 1', 'a space (a Redis connection name cannot have one)'],
    ['SERVER_ID', 'web/1', 'a character outside letters, digits, ".", "_" and "-"'],
    ['ENABLE_CHAOS', 'yes', 'neither 1 nor 0'],
    ['ENABLE_CHAOS', 'true', 'neither 1 nor 0'],
    ['REDIS_URL', 'localhost:6379', 'not a redis:// URL (its protocol would be "localhost:")'],
    ['REDIS_URL', 'http://127.0.0.1:6379', 'not a redis:// URL'],
    ['REDIS_URL', 'redis:6380', 'no host: node-redis would quietly try 127.0.0.1:6379'],
    ['REDIS_URL', '  ', 'only spaces: missing'],
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
          'new ConfigError(problems) at the end. Numbers: digits only, then the range.',
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
      'the development secret is refused',
      { REDIS_URL, NODE_ENV: 'production', SESSION_SECRET: DEV_SECRET },
      'SESSION_SECRET',
    ],
    [
      'the development secret is refused, even second in a list',
      { REDIS_URL, NODE_ENV: 'production', SESSION_SECRET: `real-secret-2025, ${DEV_SECRET}` },
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

  task(
    'outside production the same settings are fine',
    {
      points: 1,
      step: STEP_1,
      hint: 'The production rules apply only when NODE_ENV is "production": on a laptop, chaos and the dev secret are allowed.',
    },
    () => {
      const config = configFor({
        REDIS_URL,
        NODE_ENV: 'development',
        SESSION_SECRET: DEV_SECRET,
        ENABLE_CHAOS: '1',
      });

      expect(config).toMatchObject({ production: false, sessionSecrets: [DEV_SECRET], enableChaos: true });
    },
  );
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
      const messages = [
        {
          NODE_ENV: 'production',
          REDIS_URL: 'http://admin:hunter2@redis.internal:6379',
          SESSION_SECRET: `s3cr3t-value-2025,${DEV_SECRET}`,
        },
        { REDIS_URL: 'redis://:hunter2@' },
        { REDIS_URL: 'hunter2' },
      ].map((env) => {
        try {
          loadConfig(env);
        } catch (error) {
          return error instanceof Error ? error.message : String(error);
        }
        throw new Error(`loadConfig accepted ${JSON.stringify(env)}: it should have thrown a ConfigError.`);
      });

      expect(messages[0]).toMatch(/REDIS_URL/);
      expect(messages[0]).toMatch(/SESSION_SECRET/);
      for (const message of messages) {
        expect(message).not.toContain('hunter2');
        expect(message).not.toContain('s3cr3t-value-2025');
      }
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
      const { exit, output } = await refusedStart.get();
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
