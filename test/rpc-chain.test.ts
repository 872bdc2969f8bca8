import { RpcChain } from '../src/chain/rpc-chain';
import { chainGatewayContract } from './chain-gateway.contract';

const url = process.env.SOLANA_RPC_URL;

if (url) {
  chainGatewayContract(`RPC (${url})`, async () => {
    const gateway = new RpcChain({ url });
    return { gateway, close: () => gateway.close() };
  });
} else {
  // No Solana cluster can run on these machines: the same contract runs whenever one is configured.
  process.stdout.write('SKIPPED: chain gateway contract over RPC: SOLANA_RPC_URL is not set (no Solana cluster on this machine)\n');
  describe('chain gateway contract: RPC', () => {
    it.skip('SKIPPED: set SOLANA_RPC_URL (e.g. http://127.0.0.1:8899 for solana-test-validator) to run the contract suite', () => undefined);
  });
}
