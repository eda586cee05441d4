/** How Jest turns the course's TypeScript into JavaScript (types are checked apart, by tsc --noEmit). */
export const swcTransform: Record<string, [string, Record<string, unknown>]> = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      swcrc: false,
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    },
  ],
};
