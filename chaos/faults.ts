/**
 * The faults the chaos suite injects (issue 5), and the seeded random source that picks them, so a
 * run with the same `--seed` draws the same sequence of decisions.
 */

/** Every kind of fault, as it appears in the report. */
export const FAULT_KINDS = {
  /** The proxy resets the connection before the server sees the request. */
  reset: 'reset',
  /** The request reaches the server and commits; the proxy then resets instead of answering. */
  drop: 'drop',
  /** The proxy answers 503 with `Retry-After` without forwarding. */
  unavailable: '503',
  /** The proxy answers 429 with `Retry-After` without forwarding. */
  tooMany: '429',
  /** The server answers, the proxy holds the response past the client's timeout. */
  hang: 'hang',
  /** The proxy sends a copy of the request at the same time: one of the two meets a 409. */
  duplicate: 'duplicate',
  /** The server process kills itself in the middle of the handler and is restarted. */
  serverKill: 'server-kill',
  /** A client process is killed with SIGKILL; a fresh one resumes from its file journal. */
  clientKill: 'client-kill',
} as const;

export type FaultKind = (typeof FAULT_KINDS)[keyof typeof FAULT_KINDS];

/** Faults the proxy draws per attempt (client kills are drawn per client process). */
export const PROXY_FAULTS: readonly FaultKind[] = [
  FAULT_KINDS.reset,
  FAULT_KINDS.drop,
  FAULT_KINDS.unavailable,
  FAULT_KINDS.tooMany,
  FAULT_KINDS.hang,
  FAULT_KINDS.duplicate,
  FAULT_KINDS.serverKill,
];

/** A counter per fault kind, all at zero. */
export function emptyFaultCounts(): Record<FaultKind, number> {
  return Object.fromEntries(Object.values(FAULT_KINDS).map((kind) => [kind, 0])) as Record<
    FaultKind,
    number
  >;
}

/** Mulberry32: a small seeded generator of floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
