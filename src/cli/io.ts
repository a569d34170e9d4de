/** Where a command writes; tests pass their own to read what it printed. */
export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
}
