/**
 * Where a drawn client kill lands. The kill point used to be counted in new operations only, which a
 * process sends after its resume is over: no kill could ever cut a resume short.
 */
import { describe, expect, it } from 'vitest';
import { killPoint } from '../../chaos/run.ts';

describe('chaos client kills', () => {
  it('land during the resume as often as its share of the work', () => {
    expect(killPoint(0.1, 10, 30)).toEqual({ duringResume: true });
    expect(killPoint(0.25, 10, 30)).toEqual({ duringResume: true });
    expect(killPoint(0.9, 10, 30)).toEqual({ duringResume: false, afterSent: 26 });
  });

  it('land on a new operation when there is nothing to resume', () => {
    expect(killPoint(0.5, 0, 40)).toEqual({ duringResume: false, afterSent: 20 });
    expect(killPoint(1, 0, 40)).toEqual({ duringResume: false, afterSent: 40 });
    expect(killPoint(0.001, 0, 40)).toEqual({ duringResume: false, afterSent: 1 });
  });

  it('never land when not drawn or when there is no work', () => {
    expect(killPoint(0, 5, 5)).toBeUndefined();
    expect(killPoint(0.5, 0, 0)).toBeUndefined();
  });
});
