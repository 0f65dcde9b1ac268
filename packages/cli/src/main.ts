#!/usr/bin/env node
// `relevo <command>`: the one entry for every relevo process and tool.
import { ConfigError } from '@relevo/runtime';
import { CliError, EXIT } from './errors.ts';
import { commands, usage } from './commands.ts';

async function main(argv: string[]): Promise<number> {
  const [first, second, ...rest] = argv;
  const entry = commands.find((c) => c.name === `${first} ${second}`) ?? commands.find((c) => c.name === first);
  if (!entry) {
    process.stderr.write(usage());
    return first === undefined || first === 'help' || first === '--help' ? 0 : 2;
  }
  const args = entry.name.includes(' ') ? rest : [second, ...rest].filter((a): a is string => a !== undefined);
  return entry.run(args);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(err.message + '\n');
      process.exitCode = EXIT.usage;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(`relevo: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const e = err as { code?: string; message?: string };
    process.stderr.write(`relevo: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}\n`);
    process.exitCode = EXIT.failure;
  },
);
