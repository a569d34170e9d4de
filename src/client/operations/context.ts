import type { KeyFormat } from '../../protocol.ts';
import type { RetryBudget } from '../../retry/budget.ts';
import type { RetryPolicy } from '../../retry/policy.ts';
import type { ClientHooks } from '../events.ts';
import type { FetchFunction } from '../transport.ts';
import type { HeadersSource } from './options.ts';

/** What the operations layer borrows from its client: how to send, and the retry rules. */
export interface SendContext {
  readonly fetch: FetchFunction | undefined;
  readonly policy: RetryPolicy;
  readonly budget: RetryBudget | undefined;
  readonly timeout: number | false;
  readonly totalTimeout: number | false;
  readonly hooks: ClientHooks | undefined;
  readonly baseUrl: string | URL | undefined;
  readonly headers: HeadersSource | undefined;
  readonly keyFormat: KeyFormat;
  /** The client's key generator, validating included: used when a definition has no `key`. */
  readonly generateKey: () => string;
}
