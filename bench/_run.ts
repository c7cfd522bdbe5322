import { benchCommand } from '../cli/bench.ts';
process.exitCode = await benchCommand(process.argv.slice(2));
process.exit(process.exitCode);
