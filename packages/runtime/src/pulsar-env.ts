// PULSAR_TOKEN is a credential: it goes to the broker and the admin API over TLS only, unless
// PULSAR_ALLOW_INSECURE_TOKEN=true says the clear-text network is trusted. A process refuses to
// start otherwise, naming the URL (never the token) — test/consumers/hostile-config.test.ts; the
// Pulsar client refuses the same on its own (packages/pulsar/test/insecure-token.test.ts).
import { z } from 'zod';

export const pulsarTokenEnv = {
  PULSAR_TOKEN: z.string().min(1).optional(),
  PULSAR_ALLOW_INSECURE_TOKEN: z.stringbool({ error: 'expected true or false' }).default(false),
};

const PLAINTEXT = /^(pulsar|http):\/\//i;

/**
 * A superRefine for a process's config: each named URL variable that would carry PULSAR_TOKEN
 * in clear text is an issue on that variable.
 */
export function refuseInsecureToken<K extends string>(urlVariables: readonly K[]) {
  return (c: { PULSAR_TOKEN?: string | undefined; PULSAR_ALLOW_INSECURE_TOKEN: boolean } & Record<K, string | undefined>, ctx: z.RefinementCtx): void => {
    if (!c.PULSAR_TOKEN || c.PULSAR_ALLOW_INSECURE_TOKEN) return;
    for (const name of urlVariables) {
      const url = c[name];
      if (url !== undefined && PLAINTEXT.test(url)) {
        ctx.addIssue({
          code: 'custom', path: [name],
          message: 'PULSAR_TOKEN would cross the network in clear text: use pulsar+ssl:// or https://, or set PULSAR_ALLOW_INSECURE_TOKEN=true on a network you trust',
        });
      }
    }
  };
}
