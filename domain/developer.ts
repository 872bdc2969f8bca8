import { transferOrderId, type TransferOrder } from './chain-transfer';
import { checkSignature, proveBurn, requireNotCredited, type ChainProofClaim, type ObservedTransaction, type ProofAddresses } from './chain-proofs';
import type { Decider } from './decider';
import { TOKEN } from './policy';
import { reject, repeatsRecorded } from './rejection';
import { Checks } from './values';

/**
 * An app developer's account: $SYNQ bought, burnt for data credits, credits consumed. Stream `developer-<id>`.
 * Balances never go negative: an over-spend is refused, never clipped. Every operation is idempotent by its id.
 * A burn can also be proven on chain (`OnChainBurnCredited`): the developer burned $SYNQ of their own wallet's token
 * account themselves, so it adds credits and leaves the books' `tokenBalance` (tokens bought through the engine) alone.
 *
 * One token, one balance: a purchase delivered on chain (hybrid) carries its transfer order (`delivery`) in the same
 * event and never adds to the spendable `tokenBalance`; the tokens are the wallet's, and their credits come only from
 * burns proven on chain.
 */

export type DeveloperEvent =
  | { type: 'DeveloperRegistered'; data: { developerId: string; wallet: string } }
  /** `delivery`: set when the treasury delivers the tokens to the wallet (hybrid): the transfer, ordered in this event. */
  | { type: 'TokensPurchased'; data: { purchaseId: string; amount: string; paymentReference: string; delivery?: TransferOrder } }
  | { type: 'TokensBurnedForCredits'; data: { burnId: string; amount: string; creditsPerToken: string; credits: string } }
  | { type: 'CreditsConsumed'; data: { usageId: string; credits: string; sessionReference: string } }
  /** `signature`: the burn's transaction; `tokenAccount`: the wallet's token account it burned from. */
  | { type: 'OnChainBurnCredited'; data: { signature: string; amount: string; creditsPerToken: string; credits: string; tokenAccount: string } };

export interface DeveloperState {
  developerId: string;
  wallet: string;
  tokenBalance: bigint;
  credits: bigint;
  /** Operation id → its event, to tell a retry from a conflicting reuse of the id. */
  operations: Map<string, string>;
}

export const developerStream = (developerId: string) => `developer-${developerId}`;

export function evolveDeveloper(state: DeveloperState | undefined, event: DeveloperEvent): DeveloperState | undefined {
  if (event.type === 'DeveloperRegistered') {
    return { developerId: event.data.developerId, wallet: event.data.wallet, tokenBalance: 0n, credits: 0n, operations: new Map() };
  }
  if (!state) return state;
  const operations = new Map(state.operations);
  switch (event.type) {
    case 'TokensPurchased': {
      const { purchaseId, amount, paymentReference } = event.data;
      operations.set(`purchase:${purchaseId}`, JSON.stringify({ purchaseId, amount, paymentReference }));
      // Delivered to the wallet: the tokens left the books in this same event.
      return event.data.delivery ? { ...state, operations } : { ...state, operations, tokenBalance: state.tokenBalance + BigInt(amount) };
    }
    case 'TokensBurnedForCredits':
      operations.set(`burn:${event.data.burnId}`, JSON.stringify({ burnId: event.data.burnId, amount: event.data.amount }));
      return { ...state, operations, tokenBalance: state.tokenBalance - BigInt(event.data.amount), credits: state.credits + BigInt(event.data.credits) };
    case 'CreditsConsumed':
      operations.set(`usage:${event.data.usageId}`, JSON.stringify(event.data));
      return { ...state, operations, credits: state.credits - BigInt(event.data.credits) };
    case 'OnChainBurnCredited':
      operations.set(onChainBurnKey(event.data.signature), JSON.stringify({ signature: event.data.signature, amount: event.data.amount }));
      return { ...state, operations, credits: state.credits + BigInt(event.data.credits) };
  }
}

export function registerDeveloper(state: DeveloperState | undefined, command: { developerId: unknown; wallet: unknown }): DeveloperEvent[] {
  const checks = new Checks();
  const developerId = checks.id('developerId', command.developerId);
  const wallet = checks.publicKey('wallet', command.wallet);
  checks.done();
  if (state && repeatsRecorded(`developer ${developerId}`, { wallet: state.wallet }, { wallet })) return [];
  return [{ type: 'DeveloperRegistered', data: { developerId, wallet } }];
}

/**
 * How a purchase is delivered: null keeps it in the books (web2); otherwise the treasury delivers it to the wallet, and
 * `treasuryAvailable` is the treasury's balance on chain less what is reserved (pools not yet paid, transfers ordered
 * and not yet sent): a delivery that would dip into a reservation is refused.
 */
export type PurchaseDelivery = { treasuryAvailable: bigint } | null;

export function recordPurchase(
  state: DeveloperState | undefined,
  command: { purchaseId: unknown; amount: unknown; paymentReference: unknown },
  delivery: PurchaseDelivery = null,
): DeveloperEvent[] {
  const account = requireDeveloper(state);
  const checks = new Checks();
  const data = {
    purchaseId: checks.id('purchaseId', command.purchaseId),
    amount: checks.amount('amount', command.amount).toString(),
    paymentReference: checks.text('paymentReference', command.paymentReference, 200),
  };
  checks.done();
  if (repeated(account, `purchase:${data.purchaseId}`, JSON.stringify(data), 'purchaseId')) return [];
  if (!delivery) return [{ type: 'TokensPurchased', data }];
  const amount = BigInt(data.amount);
  if (amount > delivery.treasuryAvailable) {
    const available = delivery.treasuryAvailable < 0n ? 0n : delivery.treasuryAvailable;
    reject(
      'conflict',
      'amount',
      `the treasury cannot deliver ${amount} base units: ${available} are free of reservations (pools not yet paid, transfers ordered), ${amount - available} short`,
    );
  }
  const order: TransferOrder = {
    orderId: transferOrderId('purchase_delivery', account.developerId, data.purchaseId),
    kind: 'purchase_delivery',
    source: 'treasury',
    recipientWallet: account.wallet,
    toTreasury: false,
    amount: data.amount,
    reference: `${account.developerId}/${data.purchaseId}`,
  };
  return [{ type: 'TokensPurchased', data: { ...data, delivery: order } }];
}

/** Burns `amount` base units for credits at `creditsPerToken` (the rate in force); the credits must come out whole. */
export function burnForCredits(state: DeveloperState | undefined, command: { burnId: unknown; amount: unknown }, creditsPerToken: bigint): DeveloperEvent[] {
  const account = requireDeveloper(state);
  const checks = new Checks();
  const burnId = checks.id('burnId', command.burnId);
  const amount = checks.amount('amount', command.amount);
  checks.done();
  if (repeated(account, `burn:${burnId}`, JSON.stringify({ burnId, amount: amount.toString() }), 'burnId')) return [];
  if ((amount * creditsPerToken) % TOKEN !== 0n) {
    reject(
      'invalid',
      'amount',
      `must buy whole credits: at ${creditsPerToken} credits per token, a multiple of ${TOKEN / gcd(TOKEN, creditsPerToken)} base units`,
    );
  }
  if (amount > account.tokenBalance) reject('conflict', 'amount', `exceeds the token balance (${account.tokenBalance} base units)`);
  const credits = (amount * creditsPerToken) / TOKEN;
  return [
    { type: 'TokensBurnedForCredits', data: { burnId, amount: amount.toString(), creditsPerToken: creditsPerToken.toString(), credits: credits.toString() } },
  ];
}

const onChainBurnKey = (signature: string) => `onchain-burn:${signature}`;

/** What the engine read from the chain about a burn, as plain data (src/developers fetches it through the gateway). */
export interface OnChainBurnFacts {
  signature: string;
  /** The claim on `chainproof-<signature>`, if the signature was claimed before. */
  claim: ChainProofClaim | undefined;
  /** The landed transaction; null when the chain does not know the signature. */
  transaction: ObservedTransaction | null;
  /** Owner (base58) of each $SYNQ token account the transaction burns from, as the chain holds it now; null if none. */
  tokenAccountOwners: ReadonlyMap<string, string | null>;
}

/**
 * Credits a burn proven on chain (domain/chain-proofs.ts `proveBurn`): $SYNQ burned from token accounts owned by the
 * developer's registered wallet, at `creditsPerToken` (the rate in force when it is credited); the credits must come out
 * whole. Refused when the signature is credited already, here or on any other account.
 */
export function creditOnChainBurn(
  state: DeveloperState | undefined,
  facts: OnChainBurnFacts,
  addresses: Pick<ProofAddresses, 'mint'>,
  creditsPerToken: bigint,
): DeveloperEvent[] {
  const account = requireDeveloper(state);
  const signature = checkSignature(facts.signature);
  requireNotCredited(facts.claim, developerStream(account.developerId), account.operations.has(onChainBurnKey(signature)));
  const burn = proveBurn(facts.transaction, addresses, account.wallet, facts.tokenAccountOwners);
  if ((burn.amount * creditsPerToken) % TOKEN !== 0n) {
    reject(
      'invalid',
      'signature',
      `the burn of ${burn.amount} base units does not buy whole credits: at ${creditsPerToken} credits per token, burn a multiple of ${TOKEN / gcd(TOKEN, creditsPerToken)} base units`,
    );
  }
  const credits = (burn.amount * creditsPerToken) / TOKEN;
  return [
    {
      type: 'OnChainBurnCredited',
      data: {
        signature,
        amount: burn.amount.toString(),
        creditsPerToken: creditsPerToken.toString(),
        credits: credits.toString(),
        tokenAccount: burn.tokenAccount,
      },
    },
  ];
}

export function consumeCredits(
  state: DeveloperState | undefined,
  command: { usageId: unknown; credits: unknown; sessionReference: unknown },
): DeveloperEvent[] {
  const account = requireDeveloper(state);
  const checks = new Checks();
  const data = {
    usageId: checks.id('usageId', command.usageId),
    credits: checks.amount('credits', command.credits).toString(),
    sessionReference: checks.text('sessionReference', command.sessionReference, 200),
  };
  checks.done();
  if (repeated(account, `usage:${data.usageId}`, JSON.stringify(data), 'usageId')) return [];
  if (BigInt(data.credits) > account.credits) reject('conflict', 'credits', `exceeds the credit balance (${account.credits})`);
  return [{ type: 'CreditsConsumed', data }];
}

/** The operation `key` seen before: true when `content` (JSON) repeats it; other content is a 409 naming the field that differs. */
function repeated(account: DeveloperState, key: string, content: string, _idField: string): boolean {
  const earlier = account.operations.get(key);
  return repeatsRecorded(
    `${key.split(':')[0]} ${key.split(':').slice(1).join(':')}`,
    earlier === undefined ? undefined : JSON.parse(earlier),
    JSON.parse(content),
  );
}

function requireDeveloper(state: DeveloperState | undefined): DeveloperState {
  if (!state) reject('not_found', 'developerId', 'no developer is registered with this id');
  return state;
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

export type DeveloperCommand =
  | { type: 'RegisterDeveloper'; data: { developerId: unknown; wallet: unknown } }
  /** `delivery`: null in the books (web2); in hybrid, what the treasury has free of reservations. */
  | { type: 'RecordPurchase'; data: { purchaseId: unknown; amount: unknown; paymentReference: unknown; delivery: PurchaseDelivery } }
  /** `creditsPerToken`: the rate in force. */
  | { type: 'BurnForCredits'; data: { burnId: unknown; amount: unknown; creditsPerToken: bigint } }
  | { type: 'CreditOnChainBurn'; data: { facts: OnChainBurnFacts; addresses: Pick<ProofAddresses, 'mint'>; creditsPerToken: bigint } }
  | { type: 'ConsumeCredits'; data: { usageId: unknown; credits: unknown; sessionReference: unknown } };

/** An app developer's account, by its id: `developer-<id>`. */
export const developerDecider: Decider<DeveloperState | undefined, DeveloperEvent, DeveloperCommand, string> = {
  streamOf: developerStream,
  initial: () => undefined,
  evolve: evolveDeveloper,
  decide(command, state) {
    switch (command.type) {
      case 'RegisterDeveloper':
        return registerDeveloper(state, command.data);
      case 'RecordPurchase':
        return recordPurchase(state, command.data, command.data.delivery);
      case 'BurnForCredits':
        return burnForCredits(state, command.data, command.data.creditsPerToken);
      case 'CreditOnChainBurn':
        return creditOnChainBurn(state, command.data.facts, command.data.addresses, command.data.creditsPerToken);
      case 'ConsumeCredits':
        return consumeCredits(state, command.data);
    }
  },
};
