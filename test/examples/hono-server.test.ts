import { describe } from 'vitest';
import { serverExampleCases } from './support.ts';

describe('examples/hono-server', () => {
  serverExampleCases('hono-server');
});
