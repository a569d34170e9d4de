import { describe } from 'vitest';
import { serverExampleCases } from './support.ts';

describe('examples/fastify-server', () => {
  serverExampleCases('fastify-server');
});
