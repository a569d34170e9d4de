/**
 * Where the real services for tests are. `.ci/run` starts them and exports these variables; on a
 * laptop without them the tests that need them skip, but under `CI=true` a missing service throws,
 * so the run fails instead of passing with less tested.
 */
const VARIABLES = {
  redis: 'ONCELY_REDIS_URL',
  postgres: 'ONCELY_POSTGRES_URL',
  chromium: 'ONCELY_CHROMIUM',
} as const;

export type Service = keyof typeof VARIABLES;

/** The service's URL (or executable path for Chromium), or undefined when it is absent off CI. */
export function service(name: Service): string | undefined {
  const value = process.env[VARIABLES[name]];
  if (value) return value;
  if (process.env.CI === 'true') {
    throw new Error(`${VARIABLES[name]} is not set: CI must start ${name} (see .ci/run)`);
  }
  return undefined;
}
