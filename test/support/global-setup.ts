// The suite runs against the real services: the machine's PostgreSQL and relevo's dev
// broker, which is started here if it is not already up (pnpm pulsar:start does the same).
import { startBroker } from '../../scripts/pulsar.ts';

export default async function setup(): Promise<void> {
  await startBroker({ quiet: true });
}
