export { InvalidKeyError } from './invalid-key-error.ts';
export { hashKey, type KeyPart, keyFrom } from './key-from.ts';
export { type NewKeyOptions, newKey } from './new-key.ts';
export { assertValidKey, isValidKey, keyProblem, MAX_KEY_LENGTH } from './validate.ts';
export { isTimeWindow, type TimeWindow, window } from './window.ts';
