import { describe, expect, it } from 'vitest';
import { service } from '../support/services.ts';
import { runExample } from './support.ts';

const url = service('postgres');

describe.skipIf(!url)('examples/postgres-transactional', () => {
  it('a retry replays; a handler failure leaves neither a charge nor a record', async () => {
    const run = await runExample('postgres-transactional', [], { DATABASE_URL: url ?? '' });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /POST pay-a again \(a retry\)\s+201 \(replayed\)\s+charges: 1\s+records: 1/,
    );
    expect(run.stdout).toMatch(/POST pay-b, provider down\s+500\s+charges: 0\s+records: 0/);
    expect(run.stdout).toMatch(/POST pay-b again, provider up\s+201\s+charges: 1\s+records: 1/);
    expect(run.stdout).toMatch(
      /POST pay-c twice at once\s+201, 201\s+charges: 1\s+records: 1\s+replays: 1/,
    );
    // The scope is the account of a verified API key: a key the server does not know gets 401
    // before the helper, so it neither charges nor leaves a record under a made-up scope.
    expect(run.stdout).toMatch(/POST pay-d, unknown API key\s+401\s+charges: 0\s+records: 0/);
    expect(run.stdout).toContain('every charge happened once');
  });

  it('says what it needs without a database', async () => {
    const run = await runExample('postgres-transactional', [], {
      DATABASE_URL: '',
      ONCELY_POSTGRES_URL: '',
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('Set DATABASE_URL');
  });
});
