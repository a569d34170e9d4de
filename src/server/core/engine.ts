import { keyProblem } from '../../key/validate.ts';
import { parseKeyHeader } from '../../protocol.ts';
import {
  type CompletedRecord,
  type InFlightRecord,
  type MaybePromise,
  RECORD_STATE,
  type StoreRecord,
} from '../stores/store.ts';
import { Claim } from './claim.ts';
import { fingerprint } from './fingerprint.ts';
import { isPromise } from './is-promise.ts';
import type { CoreOptions, Logger } from './options.ts';
import { recordId } from './record-id.ts';
import { Runtime, sleep, waitPolls } from './runtime.ts';
import type { Settings } from './settings.ts';
import { Transaction } from './transaction.ts';
import type { BeginInput, PlainResponse } from './types.ts';

/**
 * What to do with a request, as decided by {@link Engine.begin}:
 * - `bypass`: not guarded (GET, HEAD, OPTIONS, or no key where none is required): run the handler
 *   as if the helper were not there.
 * - `respond`: send `response` and do not run the handler. It is a problem (400, 409, 422, 503)
 *   or a replay (the stored response with `Idempotent-Replayed: true`); `replayed` tells which.
 * - `proceed`: this request holds the key: run the handler, then settle `claim`.
 * - `transact`: transactional mode: run the handler inside `transaction.run(work)`.
 */
export type Decision =
  | { kind: 'bypass' }
  | { kind: 'respond'; response: PlainResponse; replayed: boolean }
  | { kind: 'proceed'; claim: Claim }
  | { kind: 'transact'; transaction: Transaction };

const BYPASS: Decision = Object.freeze({ kind: 'bypass' });
// The draft's §1 and RFC 9110 §9.2.1: safe methods are idempotent already; a key on them is ignored.
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const KEY = 'idempotency-key';

/** The scope of every key when no `scope` option is given. */
export const GLOBAL_SCOPE = '*';

// One warning per logger (console being one), however many routes are created without scope.
const warned = new WeakSet<Logger>();

/**
 * The framework-neutral core of the server helper, and **the contract adapters build on**.
 * An adapter calls {@link Engine.begin} once per request with plain data (no web `Request` is
 * needed) and follows the {@link Decision}:
 *
 * ```ts
 * const engine = createEngine<IncomingMessage>(options);
 * const decision = await engine.begin({ method, path: req.url, header: (n) => req.headers[n], body: () => rawBody(req), request: req });
 * switch (decision.kind) {
 *   case 'bypass': return next();
 *   case 'respond': return send(decision.response);            // status, header pairs, body bytes
 *   case 'proceed': {
 *     // run the handler while capturing status, final headers and body chunks as they are written;
 *     // past claim.maxBodyBytes stop collecting and call claim.release('too-large').
 *     // on finish: claim.complete({ status, headers: res.getHeaders(), body: chunks })
 *     // on throw, or a connection closed before the end: claim.release('handler-threw' | 'aborted')
 *   }
 *   case 'transact': // await decision.transaction.run(async (tx) => ({ status, headers, body }))
 * }
 * ```
 *
 * `begin` never throws for a store failure (it answers 503); it throws only when the `scope`
 * function or the body reader does. Settling a claim never throws either.
 */
export class Engine<Req = Request> {
  readonly #runtime: Runtime;
  readonly #settings: Settings;
  readonly #scope: ((request: Req) => string | Promise<string>) | undefined;

  constructor(options: CoreOptions<Req> = {}) {
    this.#runtime = new Runtime(options as CoreOptions<never>);
    this.#settings = this.#runtime.settings;
    this.#scope = options.scope;
    if (this.#scope === undefined && !warned.has(this.#settings.logger)) {
      warned.add(this.#settings.logger);
      this.#settings.logger.warn(
        'oncely: idempotency() has no `scope` option, so every client shares one key space and one ' +
          "client's key can replay another's response. Pass scope: (request) => <API key, user or tenant>.",
      );
    }
  }

  /** The options after defaults (store, limits, clock), for adapters and tests. */
  get settings(): Readonly<Settings> {
    return this.#settings;
  }

  /**
   * Decides what to do with one request: validate its key, claim it, or answer from the store.
   * See {@link Decision}. It answers synchronously when nothing it needs is asynchronous (the
   * body and scope are at hand and the store is synchronous, as the memory store is), and with a
   * promise otherwise: `await` it.
   */
  begin(input: BeginInput<Req>): Decision | Promise<Decision> {
    const method = input.method.toUpperCase();
    if (SAFE_METHODS.has(method)) return BYPASS;
    const settings = this.#settings;
    const runtime = this.#runtime;
    const raw = input.header(KEY);
    // An empty list (a framework's header lookup with no line of that name) is no header.
    if (raw === undefined || raw === null || (typeof raw !== 'string' && raw.length === 0)) {
      if (!settings.required || !settings.methods.has(method)) return BYPASS;
      return runtime
        .problem('missing', `${method} requests to this resource need an Idempotency-Key header.`)
        .then(respond);
    }
    let value: string;
    if (typeof raw === 'string') value = raw;
    else if (raw.length === 1) value = raw[0] as string;
    else return runtime.problem('invalid', 'more than one Idempotency-Key value').then(respond);
    const parsed = parseKeyHeader(value);
    if (!parsed.ok) return runtime.problem('invalid', parsed.reason).then(respond);
    const key = parsed.key;
    const problem = keyProblem(key);
    // The key is echoed only once valid: an invalid one may be huge or hold control characters.
    if (problem !== undefined) return runtime.problem('invalid', problem).then(respond);

    const scope = this.#scope === undefined ? GLOBAL_SCOPE : this.#scope(input.request);
    const body = typeof input.body === 'function' ? input.body() : input.body;
    // Each await of a plain value would still cost a microtask turn: only promises are awaited.
    if (typeof scope === 'string') {
      if (!isPromise(body)) return this.#claim(input, method, key, scope, body);
      // A body still being read (the Hono and node:http adapters): one continuation.
      return body.then((read) => this.#claim(input, method, key, scope, read));
    }
    return Promise.all([scope, body]).then(([scope, body]) =>
      this.#claim(input, method, key, scope, body),
    );
  }

  #claim(
    input: BeginInput<Req>,
    method: string,
    key: string,
    scope: unknown,
    body: Uint8Array | string | undefined,
  ): Decision | Promise<Decision> {
    if (typeof scope !== 'string') throw new TypeError('the scope option must return a string');
    const contentType = input.header('content-type');
    const print = fingerprint({
      method,
      path: input.path,
      contentType: typeof contentType === 'string' ? contentType : contentType?.[0],
      body,
      json: input.json,
    });
    const id = recordId(scope, key);
    const runtime = this.#runtime;
    if (this.#settings.transactional) {
      return { kind: 'transact', transaction: new Transaction(runtime, id, key, scope, print) };
    }
    // The first claim, without a promise when the store answers synchronously: on the common
    // paths (a new key, a replay) the request is decided here.
    const record = this.#runtime.inFlightRecord(print);
    let claimed: MaybePromise<StoreRecord | undefined>;
    try {
      claimed = this.#settings.store.claim(id, record);
    } catch (error) {
      return runtime.storeDown(key, scope, 'claim', error).then(respond);
    }
    if (isPromise(claimed)) {
      return claimed.then(
        (existing) => this.#claimed(id, key, scope, print, record, existing),
        (error: unknown) => runtime.storeDown(key, scope, 'claim', error).then(respond),
      );
    }
    return this.#claimed(id, key, scope, print, record, claimed);
  }

  /** What the first claim found: the key is ours, a replay, or one of the rarer paths. */
  #claimed(
    id: string,
    key: string,
    scope: string,
    print: string,
    record: InFlightRecord,
    existing: StoreRecord | undefined,
  ): Decision | Promise<Decision> {
    if (existing === undefined) return this.#won(id, key, scope, record, print);
    if (existing.state === RECORD_STATE.completed && existing.fingerprint === print) {
      return this.#replay(key, scope, existing);
    }
    return this.#acquire(id, key, scope, print, existing);
  }

  /**
   * The rarer paths, after a first claim found `found`: a reused key (422), a lapsed lease to
   * take over, a live one to wait for or answer 409 to, and the claims again that those need.
   */
  async #acquire(
    id: string,
    key: string,
    scope: string,
    print: string,
    found: StoreRecord,
  ): Promise<Decision> {
    const runtime = this.#runtime;
    const settings = this.#settings;
    const store = settings.store;
    let polls = waitPolls(settings);
    let takeovers = 0;
    let existing: StoreRecord | undefined = found;
    for (;;) {
      if (existing === undefined) {
        const record = this.#runtime.inFlightRecord(print);
        try {
          existing = await store.claim(id, record);
        } catch (error) {
          return respond(await runtime.storeDown(key, scope, 'claim', error));
        }
        if (existing === undefined) return this.#won(id, key, scope, record, print);
      }
      const verdict = runtime.judge(existing, print, settings.now());
      if (verdict === 'mismatch') return respond(await runtime.mismatch(key, scope));
      if (existing.state === RECORD_STATE.completed) return this.#replay(key, scope, existing);
      if (verdict === 'lapsed' && takeovers++ < 3) {
        // The holder's lease ran out (its process likely died): take the key over, compare-and-set
        // on the owner and lease we read, so two retries cannot both win.
        const next = this.#runtime.inFlightRecord(print);
        let took: boolean;
        try {
          took = await store.takeOver(
            id,
            { owner: existing.owner, leaseUntil: existing.leaseUntil },
            next,
          );
        } catch (error) {
          return respond(await runtime.storeDown(key, scope, 'takeOver', error));
        }
        if (took) {
          runtime.emit({ type: 'takeover', key, scope, previousOwner: existing.owner });
          return this.#proceed(id, key, scope, next, print);
        }
        existing = undefined;
        continue;
      }
      if (polls-- > 0 && settings.wait !== undefined) {
        await sleep(settings.wait.pollMs);
        existing = undefined;
        continue;
      }
      return respond(await runtime.conflict(key, scope, existing.leaseUntil));
    }
  }

  /** This request's claim created the record: it holds the key. */
  #won(id: string, key: string, scope: string, record: InFlightRecord, print: string): Decision {
    const runtime = this.#runtime;
    if (runtime.observed) runtime.emit({ type: 'claim', key, scope });
    return this.#proceed(id, key, scope, record, print);
  }

  /** The stored response, sent again. */
  #replay(key: string, scope: string, existing: CompletedRecord): Decision {
    const runtime = this.#runtime;
    if (runtime.observed) {
      runtime.emit({ type: 'replay', key, scope, status: existing.response.status });
    }
    return { kind: 'respond', response: runtime.replay(existing.response), replayed: true };
  }

  #proceed(
    id: string,
    key: string,
    scope: string,
    record: InFlightRecord,
    print: string,
  ): Decision {
    const claim = new Claim(this.#runtime, id, key, scope, record.owner, record.leaseUntil, print);
    return { kind: 'proceed', claim };
  }
}

function respond(response: PlainResponse): Decision {
  return { kind: 'respond', response, replayed: false };
}

/**
 * The framework-neutral engine the adapters drive (see {@link Engine}).
 *
 * @example
 * ```ts
 * const engine = createEngine<IncomingMessage>({ store, scope: (req) => accountOf(req) });
 * const decision = await engine.begin({
 *   method: req.method ?? 'GET',
 *   path: req.url ?? '/',
 *   header: (name) => req.headers[name],
 *   body: bytes,
 *   request: req,
 * });
 * ```
 */
export function createEngine<Req = Request>(options: CoreOptions<Req> = {}): Engine<Req> {
  return new Engine<Req>(options);
}
