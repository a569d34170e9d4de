import { InvalidOptionsError } from './invalid-options-error.ts';

/** `value` when it is a finite number above 0, else an {@link InvalidOptionsError} naming `name`. */
export function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new InvalidOptionsError(name, `expected a positive number of ms, got ${value}`);
  }
  return value;
}

/** `value` when it is a finite number ≥ 0, else an {@link InvalidOptionsError} naming `name`. */
export function nonNegative(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new InvalidOptionsError(name, `expected a number ≥ 0, got ${value}`);
  }
  return value;
}
