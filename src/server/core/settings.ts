import { memoryStore } from '../stores/memory.ts';
import { isTransactionalStore, type Store } from '../stores/store.ts';
import { InvalidOptionsError } from './invalid-options-error.ts';
import { nonNegative, positive } from './option-checks.ts';
import type { CoreOptions, Logger } from './options.ts';
import { PROBLEM_BASE_URI, type ProblemBuilder } from './problem.ts';

/** The options of an engine after defaults, validated once at creation. */
export interface Settings {
  store: Store;
  required: boolean;
  methods: ReadonlySet<string>;
  ttlMs: number;
  leaseMs: number;
  wait: { timeoutMs: number; pollMs: number } | undefined;
  maxBodyBytes: number;
  storeServerErrors: boolean;
  storeSetCookie: boolean;
  problem: ProblemBuilder | undefined;
  problemBaseUri: string;
  transactional: boolean;
  logger: Logger;
  now: () => number;
}

export const DEFAULTS = {
  methods: ['POST', 'PATCH'],
  ttlMs: 24 * 60 * 60 * 1000,
  leaseMs: 60_000,
  waitTimeoutMs: 10_000,
  waitPollMs: 50,
  maxBodyBytes: 1024 * 1024,
  maxRequestBytes: 1024 * 1024,
} as const;

export function settingsOf(options: CoreOptions<never>): Settings {
  const store = options.store ?? memoryStore();
  const transactional = options.transactional ?? false;
  if (transactional && !isTransactionalStore(store)) {
    throw new InvalidOptionsError(
      'transactional',
      'the store has no transact(): use postgresStore',
    );
  }
  const wait =
    options.wait === undefined || options.wait === false
      ? undefined
      : {
          timeoutMs: positive(
            'wait.timeoutMs',
            (options.wait === true ? undefined : options.wait.timeoutMs) ?? DEFAULTS.waitTimeoutMs,
          ),
          pollMs: positive(
            'wait.pollMs',
            (options.wait === true ? undefined : options.wait.pollMs) ?? DEFAULTS.waitPollMs,
          ),
        };
  return {
    store,
    required: options.required ?? true,
    methods: new Set((options.methods ?? DEFAULTS.methods).map((method) => method.toUpperCase())),
    // No check of ttlMs against leaseMs: an in-flight record lives at least until its lease ends
    // (the engine sets its expiresAt so, and renew moves it), so a short ttlMs is safe.
    ttlMs: positive('ttlMs', options.ttlMs ?? DEFAULTS.ttlMs),
    leaseMs: positive('leaseMs', options.leaseMs ?? DEFAULTS.leaseMs),
    wait,
    maxBodyBytes: nonNegative('maxBodyBytes', options.maxBodyBytes ?? DEFAULTS.maxBodyBytes),
    storeServerErrors: options.storeServerErrors ?? false,
    storeSetCookie: options.storeSetCookie ?? false,
    problem: options.problem,
    problemBaseUri: options.problemBaseUri ?? PROBLEM_BASE_URI,
    transactional,
    logger: options.logger ?? console,
    now: options.now ?? Date.now,
  };
}

/** The `maxRequestBytes` option of the web wrapper and the adapters, checked like the others. */
export function requestLimit(value: number | undefined): number {
  return nonNegative('maxRequestBytes', value ?? DEFAULTS.maxRequestBytes);
}
