import { readFileSync } from 'node:fs';
import { Connection, Keypair, PublicKey, Transaction } from '@solana/web3.js';
import { readCommandLine, noMoreWords, UsageError, wholeNumber } from '../src/cli/arguments';
import { ConfigError, loadConfig } from '../src/config/config';

/**
 * `synq claim --epoch N --keypair FILE [--url URL] [--sponsored]` (src/cli/commands.ts): for a wallet holder. Fetches
 * the wallet's claim from the engine's public `GET /epochs/N/claims/WALLET`, signs the transaction with the keypair
 * (Solana CLI JSON), and sends it through the cluster's JSON-RPC (SOLANA_RPC_URL, else the engine's `/chain/rpc` on the
 * embedded chain), confirming by polling; with `--sponsored` the engine's sponsor pays the fee and rent: the signed
 * transaction is posted back to the engine, which co-signs and sends it. Prints the amount, the signature and the new
 * token balance. It needs no database and no API key: only the engine's public endpoints and the wallet's key.
 */
interface Problem {
  detail?: string;
  problems?: { field: string; reason: string }[];
}

runClaim(async () => {
  const commandLine = readCommandLine('claim', process.argv.slice(2));
  noMoreWords(commandLine.words, 0);
  const epoch = wholeNumber('--epoch', commandLine.value('--epoch'), 1, 1_000_000_000);
  const file = commandLine.value('--keypair');
  if (file === undefined) throw new UsageError('--keypair FILE is required (the wallet’s keypair, Solana CLI JSON)');
  const keypair = readKeypair(file);
  const config = loadConfig();
  const url = (commandLine.value('--url') ?? `http://127.0.0.1:${config.port}`).replace(/\/+$/, '');
  if (!/^https?:\/\/\S+$/.test(url)) throw new UsageError(`--url must be an http(s) URL, got "${url.slice(0, 80)}"`);
  const sponsored = commandLine.has('--sponsored');
  const wallet = keypair.publicKey.toBase58();

  const claim = await engine<{
    amount: string;
    claimed: boolean;
    tokenAccount: string;
    transaction: string | null;
    lastValidBlockHeight: string | null;
  }>('GET', `${url}/epochs/${epoch}/claims/${wallet}${sponsored ? '?sponsored=true' : ''}`);
  if (claim.claimed || claim.transaction === null) throw new Error(`epoch ${epoch}: ${wallet} has claimed already`);
  const transaction = Transaction.from(Buffer.from(claim.transaction, 'base64'));
  transaction.partialSign(keypair);
  const connection = new Connection(config.solanaRpcUrl ?? `${url}/chain/rpc`, 'confirmed');

  let signature: string;
  let paidBySponsor = '';
  if (sponsored) {
    const answer = await engine<{ signature: string; sponsorPaid: { totalLamports: string } }>('POST', `${url}/epochs/${epoch}/claims/${wallet}/sponsored`, {
      transaction: transaction.serialize({ requireAllSignatures: false }).toString('base64'),
    });
    signature = answer.signature;
    paidBySponsor = ` (sponsored: the sponsor paid ${answer.sponsorPaid.totalLamports} lamports)`;
  } else {
    signature = await connection.sendRawTransaction(transaction.serialize());
    await confirm(connection, signature, BigInt(claim.lastValidBlockHeight ?? '0'));
  }
  const balance = (await connection.getTokenAccountBalance(new PublicKey(claim.tokenAccount))).value.amount;
  process.stdout.write(
    `claimed ${claim.amount} base units of epoch ${epoch} for ${wallet}: signature ${signature}${paidBySponsor}; token balance now ${balance}\n`,
  );
  return 0;
});

/** The wallet's keypair file: a usage mistake (exit 2) when it cannot be read or is not 64 numbers. */
function readKeypair(file: string): Keypair {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--keypair ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, false);
  }
  let bytes: unknown;
  try {
    bytes = JSON.parse(text);
  } catch {
    bytes = undefined;
  }
  if (!Array.isArray(bytes) || bytes.length !== 64 || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b < 256))
    throw new UsageError(`--keypair ${file} is not a Solana CLI keypair (a JSON array of 64 numbers)`, false);
  try {
    return Keypair.fromSecretKey(Uint8Array.from(bytes as number[]));
  } catch {
    throw new UsageError(`--keypair ${file} is not a valid keypair (its public half does not match its secret)`, false);
  }
}

/** One call to the engine's public API: its JSON answer, or an error with the problem's detail on one line. */
async function engine<T>(method: 'GET' | 'POST', url: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new Error(`cannot reach the engine at ${new URL(url).origin} (${(error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message})`, {
      cause: error,
    });
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const problem = parsed as Problem | undefined;
    throw new Error(`${response.status}: ${problem?.problems?.[0]?.reason ?? problem?.detail ?? text.slice(0, 200)}`);
  }
  return parsed as T;
}

/** Polls the signature's status until it landed (an error if it failed) or its blockhash can no longer land. */
async function confirm(connection: Connection, signature: string, lastValidBlockHeight: bigint): Promise<void> {
  for (;;) {
    const status = (await connection.getSignatureStatuses([signature])).value[0];
    if (status?.err) throw new Error(`the claim ${signature} failed on chain: ${JSON.stringify(status.err)}`);
    if (status && status.confirmationStatus !== 'processed') return;
    if (BigInt(await connection.getBlockHeight()) > lastValidBlockHeight) throw new Error(`the claim ${signature} expired before it landed; run it again`);
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
}

/**
 * As src/cli/context.ts `runCli` (one line on failure; 2 for usage and configuration mistakes, 1 otherwise), without
 * loading what a wallet holder's command never needs (the database, the embedded chain's native module).
 */
function runClaim(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ');
      const message =
        error instanceof ConfigError
          ? error.problems.map((p) => `configuration error: ${p}`).join('\n')
          : error instanceof UsageError
            ? `claim: ${oneLine(error.message)}${error.seeHelp ? '; see synq claim --help' : ''}`
            : `claim: ${oneLine((error as Error).message ?? String(error))}`;
      process.stderr.write(`${message}\n`);
      process.exit(error instanceof UsageError || error instanceof ConfigError ? 2 : 1);
    },
  );
}
