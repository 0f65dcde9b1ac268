// `node test/support/loaded-modules.ts <module>`: imports the module and prints, as JSON, the
// URL of every module that import resolved (a fresh process, so nothing else is loaded).
import { registerHooks } from 'node:module';

const resolved = new Set<string>();
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    resolved.add(result.url);
    return result;
  },
});
await import(process.argv[2]!);
process.stdout.write(JSON.stringify([...resolved]));
