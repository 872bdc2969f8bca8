import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Keypair } from '@solana/web3.js';
import { RpcChain } from '../src/chain/rpc-chain';

/**
 * The RPC adapter's own behaviour, against FakeSolanaRpc: a named fake, because no Solana cluster can run on these
 * machines (test/rpc-chain.test.ts runs the whole gateway contract against a real one when SOLANA_RPC_URL is set).
 * It answers JSON-RPC as a cluster does, and can be told to answer 429 or to fail first.
 */
class FakeSolanaRpc {
  private server!: Server;
  readonly calls: { method: string; params: unknown[] }[] = [];
  /** Answers to give before the real one, per method: an HTTP status (429) or a JSON-RPC error. */
  readonly failures = new Map<string, ({ status: number } | { rpcError: { code: number; message: string } })[]>();
  url = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const call = JSON.parse(body) as { id: number; method: string; params: unknown[] };
        this.calls.push({ method: call.method, params: call.params });
        const failure = this.failures.get(call.method)?.shift();
        if (failure && 'status' in failure) {
          response.writeHead(failure.status, { 'content-type': 'text/plain' }).end('slow down');
          return;
        }
        const answer = failure
          ? { jsonrpc: '2.0', id: call.id, error: failure.rpcError }
          : { jsonrpc: '2.0', id: call.id, result: this.result(call.method, call.params) };
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private result(method: string, params: unknown[]): unknown {
    const context = { slot: 4242 };
    switch (method) {
      case 'getLatestBlockhash':
        return { context, value: { blockhash: 'EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N', lastValidBlockHeight: 1150 } };
      case 'getBlockHeight':
        return 1000;
      case 'getMultipleAccounts':
        return { context, value: (params[0] as string[]).map(() => null) };
      default:
        return null;
    }
  }
}

describe('RPC chain adapter: retries and limits (against FakeSolanaRpc)', () => {
  const rpc = new FakeSolanaRpc();
  beforeAll(() => rpc.start());
  afterAll(() => rpc.stop());
  beforeEach(() => {
    rpc.calls.length = 0;
    rpc.failures.clear();
  });

  it('retries a rate-limited call with growing delays, then answers', async () => {
    rpc.failures.set('getLatestBlockhash', [{ status: 429 }, { status: 429 }]);
    const chain = new RpcChain({ url: rpc.url, retryDelayMs: 40, attempts: 4 });
    const started = Date.now();
    expect(await chain.latestBlockhash()).toEqual({ blockhash: 'EkSnNWid2cvwEVnVx9aBqawnmiCNiDgp3gUdkDPTKN1N', lastValidBlockHeight: 1150n });
    expect(rpc.calls.map((call) => call.method)).toEqual(['getLatestBlockhash', 'getLatestBlockhash', 'getLatestBlockhash']);
    // 40 ms, then 80 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(120);
  });

  it('gives up after its attempts, with the cluster’s answer in the error', async () => {
    rpc.failures.set('getBlockHeight', [{ status: 429 }, { status: 429 }, { status: 429 }]);
    await expect(new RpcChain({ url: rpc.url, retryDelayMs: 1, attempts: 3 }).blockHeight()).rejects.toThrow(/429/);
    expect(rpc.calls).toHaveLength(3);
  });

  it('does not retry an error that is not transient', async () => {
    rpc.failures.set('getBlockHeight', [{ rpcError: { code: -32602, message: 'Invalid params' } }]);
    await expect(new RpcChain({ url: rpc.url, retryDelayMs: 1 }).blockHeight()).rejects.toThrow(/Invalid params/);
    expect(rpc.calls).toHaveLength(1);
  });

  it('reads many accounts 100 a call, in the order asked', async () => {
    const keys = Array.from({ length: 250 }, () => Keypair.generate().publicKey);
    const accounts = await new RpcChain({ url: rpc.url }).getAccounts(keys);
    expect(accounts).toHaveLength(250);
    expect(rpc.calls.map((call) => (call.params[0] as string[]).length)).toEqual([100, 100, 50]);
    expect(rpc.calls.flatMap((call) => call.params[0] as string[])).toEqual(keys.map((key) => key.toBase58()));
  });
});
