/**
 * The longest delay a timer takes, in ms: setTimeout and setInterval keep a signed 32-bit count,
 * and fire after 1 ms instead (every millisecond, for an interval) beyond it. Client and server
 * both import this one value.
 */
export const MAX_TIMER_MS = 2_147_483_647;
