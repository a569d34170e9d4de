export { type AttemptOutcome, type AttemptPlan, runAttempts } from './attempt-loop.ts';
export type { AttemptRecord } from './attempt-record.ts';
export { type Client, createClient, type MethodOptions } from './create-client.ts';
export * from './errors/index.ts';
export type { AttemptEvent, ClientHooks, GiveUpEvent, ReplayEvent, RetryEvent } from './events.ts';
export type { ClientOptions, RequestOptions } from './options.ts';
export { isReplayed } from './replayed.ts';
export type { AttemptLimits, FetchFunction, RequestParts } from './transport.ts';
