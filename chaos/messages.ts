/** Messages between the chaos orchestrator and its client processes (over the IPC channel). */

/** One logical operation: its id, and whether its key is derived from the id or drawn at random. */
export interface OperationSpec {
  op: string;
  derived: boolean;
}

/** What a client process is asked to do. */
export interface WorkerStart {
  baseUrl: string;
  /** The file journal, shared by a killed process and the one that resumes after it. */
  journalPath: string;
  operations: OperationSpec[];
  /** Operations in flight at once in this process. */
  concurrency: number;
  /** Milliseconds an attempt may wait for response headers (the proxy's hang outlasts it). */
  timeoutMs: number;
}

export type WorkerMessage =
  /**
   * The process is up: `resumable` operations of a killed predecessor wait in the journal (their
   * resume starts now), then `queued` ones the journal never saw are sent.
   */
  | { type: 'ready'; resumable: number; queued: number }
  /** An operation is about to be handed to the client. */
  | { type: 'sent'; op: string }
  /** An operation succeeded; `resumed` when it was finished by `resume()` after a crash. */
  | { type: 'done'; op: string; resumed: boolean }
  /** Every operation of the batch succeeded. */
  | { type: 'end' };
