#!/usr/bin/env node
// `relevo <command>`: the one entry for every relevo process and tool.
import { ConfigError, redact } from '@relevo/runtime';
import { CliError, EXIT } from './errors.ts';
import { commands, usage } from './commands.ts';
import { printable } from './format.ts';

/** An error line as printed: no secret (a driver's message may quote its URL) and nothing that acts on the terminal. */
const errorLine = (text: string) => `${printable(redact(text))}\n`;

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
      // One line per variable: each line is made printable on its own.
      process.stderr.write(err.message.split('\n').map(errorLine).join(''));
      process.exitCode = EXIT.usage;
      return;
    }
    if (err instanceof CliError) {
      process.stderr.write(errorLine(`relevo: ${err.message}`));
      process.exitCode = err.exitCode;
      return;
    }
    const e = err as { code?: string; message?: string };
    process.stderr.write(errorLine(`relevo: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`));
    process.exitCode = EXIT.failure;
  },
);
