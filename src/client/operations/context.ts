import type { AttemptOutcome } from '../attempt-loop.ts';
import type { PreparedRequest, RequestDefaults } from '../prepare-request.ts';
import type { HeadersSource } from './options.ts';

/**
 * What the operations layer borrows from its client: how its requests are built (base URL,
 * headers, key format and generator) and its attempt loop, with the client's fetch, retry rules,
 * budget and hooks.
 */
export interface SendContext extends Omit<RequestDefaults, 'headers'> {
  /** The client's headers, or its hook, called at send time. */
  readonly headers: HeadersSource | undefined;
  /** Runs the attempts of a prepared request as the client runs a call's. */
  readonly attempt: (prepared: PreparedRequest) => Promise<AttemptOutcome>;
}
