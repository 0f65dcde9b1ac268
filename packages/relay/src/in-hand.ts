// What becomes of the rows an earlier run left in hand (claimed, sequence given, not marked).
// Pure: the drain run takes them, asks the broker what it holds, and applies the answer.
import type { InHandRow } from '@relevo/db/sql';

export interface InHandPlan {
  /** At or below what the broker holds for their producer: stored. Re-sent apart, the broker answers that it has them. */
  stored: InHandRow[];
  /** Above it, and first in their partner's line: sent again under their own sequences. */
  resend: InHandRow[];
  /** Above it, behind an earlier row of their partner that is out of hand (backing off, parked): back in line. */
  giveBack: InHandRow[];
  /** Their producer's floor is unknown (the broker refused it): left in hand, their partner waits. */
  keep: InHandRow[];
}

const bySequence = (a: InHandRow, b: InHandRow) => (a.publish_sequence < b.publish_sequence ? -1 : a.publish_sequence > b.publish_sequence ? 1 : 0);

/**
 * Sorts rows in hand by fate, each list in sequence order. `floorOf` is the broker's highest
 * sequence for the row's producer (and partition), undefined when unknown. `databaseBehind`
 * (this run found the broker ahead of the database) or a row's `untrusted` (a run before it
 * did, and stopped before this row was given back): the broker holds sequences the database
 * never handed out (a restored backup, a failover that lost commits), so the row's sequence
 * says nothing of what the broker stored under it, and it goes back in line for a new one
 * (published at least once, never lost).
 */
export function planInHand(rows: readonly InHandRow[], floorOf: (row: InHandRow) => bigint | undefined, databaseBehind: boolean): InHandPlan {
  const plan: InHandPlan = { stored: [], resend: [], giveBack: [], keep: [] };
  for (const row of [...rows].sort(bySequence)) {
    if (databaseBehind || row.untrusted) {
      plan.giveBack.push(row);
      continue;
    }
    const floor = floorOf(row);
    if (floor === undefined) plan.keep.push(row);
    else if (row.publish_sequence <= floor) plan.stored.push(row);
    else if (row.behind) plan.giveBack.push(row);
    else plan.resend.push(row);
  }
  return plan;
}
