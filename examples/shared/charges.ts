/**
 * The examples' "database": charges per account, in memory. What matters is that creating one is a
 * side effect that must not happen twice for one idempotency key.
 */
export interface Charge {
  id: string;
  account: string;
  amount: number;
  currency: string;
  key: string | undefined;
}

export interface ChargeInput {
  amount: number;
  currency: string;
}

export interface Charges {
  create(account: string, input: ChargeInput, key: string | undefined): Charge;
  list(account: string): Charge[];
}

export function chargesInMemory(): Charges {
  const all: Charge[] = [];
  return {
    create(account, input, key) {
      const charge = {
        id: `ch_${all.length + 1}`,
        account,
        amount: input.amount,
        currency: input.currency,
        key,
      };
      all.push(charge);
      return charge;
    },
    list: (account) => all.filter((charge) => charge.account === account),
  };
}

/** A request body the charges API accepts, or undefined. */
export function parseChargeInput(body: unknown): ChargeInput | undefined {
  const input = body as Partial<ChargeInput> | null;
  if (typeof input?.amount !== 'number' || !Number.isInteger(input.amount) || input.amount <= 0) {
    return undefined;
  }
  if (typeof input.currency !== 'string' || !/^[A-Z]{3}$/.test(input.currency)) return undefined;
  return { amount: input.amount, currency: input.currency };
}

/**
 * The examples' API keys and the account each belongs to. The scope is the account found from a
 * key the server verified, never a header taken as is (docs/server.md, "Security: scope").
 */
const ACCOUNTS: Record<string, string> = {
  sk_test_acme: 'acme',
  sk_test_globex: 'globex',
};

/** The account of a valid API key, or undefined. */
export function accountOf(apiKey: string | undefined): string | undefined {
  return apiKey === undefined ? undefined : ACCOUNTS[apiKey];
}
