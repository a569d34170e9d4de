import { memoryStore } from '../../../src/server/stores/memory.ts';
import { testStore } from './contract.ts';

testStore('memory', () => memoryStore());
