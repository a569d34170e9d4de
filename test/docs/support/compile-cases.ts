import { expect, it } from 'vitest';

/**
 * One case per checked block: it compiles, or, listed as known broken, it still does not (so a
 * block that compiles again fails until it is taken off the list, and the list can only shrink).
 */
export function compileCases(
  rows: ReadonlyArray<readonly [name: string, line: number]>,
  errors: ReadonlyMap<string, readonly string[]>,
  knownBroken: ReadonlySet<string>,
): void {
  it.each(rows.filter(([name]) => !knownBroken.has(name)))('compiles %s (line %i)', (name) => {
    expect(errors.get(name) ?? []).toEqual([]);
  });

  it.fails.each(rows.filter(([name]) => knownBroken.has(name)))(
    'still does not compile %s (line %i; listed in KNOWN_BROKEN)',
    (name) => {
      expect(errors.get(name) ?? []).toEqual([]);
    },
  );
}
