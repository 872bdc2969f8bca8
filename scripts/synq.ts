import { wantsHelp } from '../src/cli/arguments';
import { COMMANDS, commandHelp, isCommand, synqHelp } from '../src/cli/commands';

/**
 * `synq`: one command for operators and auditors. Each subcommand is the script `npm run <name>` runs (the npm scripts
 * stay as aliases); their usage is in src/cli/commands.ts. Exit codes: 0 done; 1 the work failed or found a problem (a
 * failed projection, an audit mismatch, a verification discrepancy); 2 a usage or configuration mistake. Long work
 * shows a progress bar with rate and ETA on a terminal, plain periodic lines otherwise.
 */
const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
  process.stdout.write(`${synqHelp()}\n`);
  // Nothing asked is a usage mistake, answered with the list.
  process.exit(name === undefined ? 2 : 0);
}
if (!isCommand(name)) {
  process.stderr.write(`synq: unknown command "${name}"; run synq --help\n`);
  process.exit(2);
}
// The subcommand's script would print the same; answered here without loading it.
if (wantsHelp(rest)) {
  process.stdout.write(`${commandHelp(name)}\n`);
  process.exit(0);
}
// The subcommand's script reads its arguments from process.argv, as when npm runs it.
process.argv = [process.argv[0], `synq ${name}`, ...rest];
// eslint-disable-next-line @typescript-eslint/no-require-imports
require(COMMANDS[name].module);
