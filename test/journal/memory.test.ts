import { memoryJournal } from '../../src/journal/memory.ts';
import { testJournal } from './contract.ts';

testJournal('memory', async () => ({ journal: memoryJournal() }), { durable: false });
