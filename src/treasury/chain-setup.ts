import { Keypair, LAMPORTS_PER_SOL, PublicKey } from '@solana/web3.js';
import { chainSetupDecider, initializeChain, type ChainSetup } from '../../domain/chain-setup';
import { TOKEN } from '../../domain/policy';
import { reject } from '../../domain/rejection';
import { U64_MAX } from '../../domain/values';
import type { AppConfig } from '../config/config';
import { decideAndAppend, load, type CommandMetadata } from '../commands/streams';
import type { EventStore } from '../event-store/event-store';
import { ChainError, type ChainGateway } from '../chain/chain-gateway';
import {
  associatedTokenAddress,
  createAssociatedAccountIdempotent,
  createMintInstructions,
  createTokenAccountInstructions,
  execute,
  mintToChecked,
  readMint,
  readTokenAccount,
  SYNQ_DECIMALS,
} from '../chain/token';
import { loadOrCreateTreasuryKey, loadTreasuryKey } from '../chain/treasury-key';

export async function loadChainSetup(store: EventStore): Promise<ChainSetup | undefined> {
  return (await load(store, chainSetupDecider, undefined)).state;
}

export interface ChainInitOptions {
  /** Embedded chain: $SYNQ minted into the treasury at setup, in base units. Default 1,000,000,000 SYNQ. */
  supply?: bigint;
  /** Real cluster: the existing $SYNQ mint (its authority is not needed). */
  mint?: string;
  log?: (line: string) => void;
}

export const DEFAULT_SUPPLY = 1_000_000_000n * TOKEN;
/** Lamports the embedded chain gives the treasury authority for fees and recipients' account rent. */
const EMBEDDED_FEE_FUNDS = 100_000n * BigInt(LAMPORTS_PER_SOL);

/**
 * `chain init`. On the embedded chain: creates the treasury key (0600, in SYNQ_DATA_DIR), the $SYNQ mint with 6
 * decimals, the treasury's associated account and the stake vault, and mints the supply into the treasury. On a real
 * cluster: takes the existing mint and the treasury key from SYNQ_TREASURY_KEYPAIR, checks them, and creates the
 * treasury account and stake vault if missing. Either way the accounts are recorded as `ChainInitialized`; a second
 * run finds them recorded and changes nothing.
 */
export async function initChain(
  gateway: ChainGateway,
  store: EventStore,
  config: AppConfig,
  options: ChainInitOptions,
  metadata: CommandMetadata,
): Promise<{ setup: ChainSetup; created: boolean }> {
  const log = options.log ?? (() => undefined);
  // The books record the supply as minted: a supply the mint cannot hold is refused, never minted truncated.
  if (options.supply !== undefined && (options.supply < 0n || options.supply > U64_MAX)) reject('invalid', 'supply', `must be from 0 to ${U64_MAX} (u64)`);
  const cluster = await gateway.cluster();
  const recorded = await loadChainSetup(store);
  if (recorded) {
    if (recorded.cluster !== cluster) throw new ChainError(`the books are set up on ${recorded.cluster}, and this engine is connected to ${cluster}`);
    return { setup: recorded, created: false };
  }
  const setup =
    gateway.kind === 'embedded'
      ? await createOnEmbeddedChain(gateway, config, options, cluster, log)
      : await adoptOnCluster(gateway, config, options, cluster, log);
  await decideAndAppend(store, chainSetupDecider, undefined, (state) => initializeChain(state, setup), metadata);
  const stored = await loadChainSetup(store);
  return { setup: stored!, created: stored!.mint === setup.mint };
}

/** The recorded setup, and what the chain holds in its accounts now. */
export interface ChainStatus extends ChainSetup {
  gateway: ChainGateway['kind'];
  blockHeight: string;
  balances: { mintSupply: string | null; treasury: string | null; stakeVault: string | null; treasuryAuthorityLamports: string };
}

/**
 * The treasury's chain setup, composed once: `POST /chain/init` and `GET /chain` (TreasuryModule), `synq chain init`
 * and `synq chain status` alike.
 */
export class TreasurySetup {
  constructor(
    private readonly chain: ChainGateway,
    private readonly store: EventStore,
    private readonly config: AppConfig,
  ) {}

  /** `chain init` (see initChain): sets the chain up once and records it; a second run changes nothing. */
  init(options: ChainInitOptions, metadata: CommandMetadata): Promise<{ setup: ChainSetup; created: boolean }> {
    return initChain(this.chain, this.store, this.config, options, metadata);
  }

  /** The recorded accounts and their balances on chain now; undefined while the chain is not set up. The key is never in it. */
  async status(): Promise<ChainStatus | undefined> {
    const setup = await loadChainSetup(this.store);
    if (!setup) return undefined;
    const [mint, treasury, vault, authority] = await this.chain.getAccounts(
      [setup.mint, setup.treasuryAccount, setup.stakeVault, setup.treasuryAuthority].map((key) => new PublicKey(key)),
    );
    return {
      ...setup,
      gateway: this.chain.kind,
      blockHeight: (await this.chain.blockHeight()).toString(),
      balances: {
        mintSupply: readMint(new PublicKey(setup.mint), mint)?.supply.toString() ?? null,
        treasury: readTokenAccount(new PublicKey(setup.treasuryAccount), treasury)?.amount.toString() ?? null,
        stakeVault: readTokenAccount(new PublicKey(setup.stakeVault), vault)?.amount.toString() ?? null,
        treasuryAuthorityLamports: authority?.lamports.toString() ?? '0',
      },
    };
  }
}

export interface TreasurySetupDependencies {
  chain: ChainGateway;
  store: EventStore;
  /** Where the treasury key is (SYNQ_TREASURY_KEYPAIR, SYNQ_DATA_DIR). */
  config: AppConfig;
}

export function createTreasurySetup(deps: TreasurySetupDependencies): TreasurySetup {
  return new TreasurySetup(deps.chain, deps.store, deps.config);
}

async function createOnEmbeddedChain(
  gateway: ChainGateway,
  config: AppConfig,
  options: ChainInitOptions,
  cluster: string,
  log: (line: string) => void,
): Promise<ChainSetup> {
  const authority = await loadOrCreateTreasuryKey(config);
  const mint = Keypair.generate();
  const vault = Keypair.generate();
  const supply = options.supply ?? DEFAULT_SUPPLY;
  await gateway.requestAirdrop(authority.publicKey, EMBEDDED_FEE_FUNDS);
  const signatures = [
    await execute(
      gateway,
      await createMintInstructions(gateway, authority.publicKey, mint.publicKey, authority.publicKey),
      [authority, mint],
      'create the $SYNQ mint',
    ),
    await execute(
      gateway,
      [
        createAssociatedAccountIdempotent(authority.publicKey, authority.publicKey, mint.publicKey),
        ...(await createTokenAccountInstructions(gateway, authority.publicKey, vault.publicKey, mint.publicKey, authority.publicKey)),
      ],
      [authority, vault],
      'create the treasury account and the stake vault',
    ),
  ];
  const treasuryAccount = associatedTokenAddress(authority.publicKey, mint.publicKey);
  if (supply > 0n)
    signatures.push(await execute(gateway, [mintToChecked(mint.publicKey, treasuryAccount, authority.publicKey, supply)], [authority], 'mint the supply'));
  log(`created the $SYNQ mint ${mint.publicKey.toBase58()} and minted ${supply} base units into the treasury ${treasuryAccount.toBase58()}`);
  return {
    cluster,
    mint: mint.publicKey.toBase58(),
    decimals: SYNQ_DECIMALS,
    treasuryAuthority: authority.publicKey.toBase58(),
    treasuryAccount: treasuryAccount.toBase58(),
    stakeVault: vault.publicKey.toBase58(),
    treasuryOpeningBalance: supply.toString(),
    stakeVaultOpeningBalance: '0',
    mintSupplyAtSetup: supply.toString(),
    signatures,
  };
}

async function adoptOnCluster(
  gateway: ChainGateway,
  config: AppConfig,
  options: ChainInitOptions,
  cluster: string,
  log: (line: string) => void,
): Promise<ChainSetup> {
  if (!options.mint) throw new ChainError('on a real cluster, init takes the existing $SYNQ mint: --mint <address>');
  let mintAddress: PublicKey;
  try {
    mintAddress = new PublicKey(options.mint);
  } catch {
    throw new ChainError(`--mint: "${options.mint}" is not a base58 public key`);
  }
  const authority = await loadTreasuryKey(config);
  const mint = readMint(mintAddress, await gateway.getAccount(mintAddress));
  if (!mint) throw new ChainError(`--mint: ${options.mint} is not an SPL token mint on ${cluster}`);
  if (mint.decimals !== SYNQ_DECIMALS) throw new ChainError(`--mint: ${options.mint} has ${mint.decimals} decimals; $SYNQ has ${SYNQ_DECIMALS}`);
  const treasuryAccount = associatedTokenAddress(authority.publicKey, mintAddress);
  const vault = Keypair.generate();
  const signatures = [
    await execute(
      gateway,
      [
        createAssociatedAccountIdempotent(authority.publicKey, authority.publicKey, mintAddress),
        ...(await createTokenAccountInstructions(gateway, authority.publicKey, vault.publicKey, mintAddress, authority.publicKey)),
      ],
      [authority, vault],
      'create the treasury account and the stake vault',
    ),
  ];
  const [treasury, mintAfter] = await gateway.getAccounts([treasuryAccount, mintAddress]);
  log(`took over mint ${options.mint}; treasury ${treasuryAccount.toBase58()}, stake vault ${vault.publicKey.toBase58()}`);
  return {
    cluster,
    mint: mintAddress.toBase58(),
    decimals: SYNQ_DECIMALS,
    treasuryAuthority: authority.publicKey.toBase58(),
    treasuryAccount: treasuryAccount.toBase58(),
    stakeVault: vault.publicKey.toBase58(),
    treasuryOpeningBalance: (readTokenAccount(treasuryAccount, treasury)?.amount ?? 0n).toString(),
    stakeVaultOpeningBalance: '0',
    mintSupplyAtSetup: (readMint(mintAddress, mintAfter)?.supply ?? 0n).toString(),
    signatures,
  };
}
