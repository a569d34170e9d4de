import { describe } from 'vitest';
import { serverExampleCases } from './support.ts';

describe('examples/express-server', () => {
  serverExampleCases('express-server');
});
