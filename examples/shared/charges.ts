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
