// The group coordinator of each consumer group, for transactional offset commits: Kafka takes a
// TxnOffsetCommit at the coordinator of the group whose offsets it holds. Looked up once per group
// through a lazily created admin client and kept until a transaction fails (the coordinator may
// have moved).
import { Admin, FindCoordinatorKeyTypes } from '@platformatic/kafka';
import type { DriverSettings } from '../../driver.js';
import { baseOptions } from './base.js';

export interface GroupCoordinators {
  /** The node id of the group's coordinator. */
  of(groupId: string): Promise<number>;
  /** Forget every lookup (after a failure: the coordinator may have moved). */
  forget(): void;
  close(): Promise<void>;
}

export function createGroupCoordinators(settings: DriverSettings): GroupCoordinators {
  let admin: Admin | null = null;
  const known = new Map<string, Promise<number>>();
  return {
    of(groupId) {
      let p = known.get(groupId);
      if (!p) {
        admin ??= new Admin(baseOptions(settings, '-coordinators'));
        const a = admin;
        p = a.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] }).then((r) => {
          const found = r.find((c) => c.key === groupId) ?? r[0];
          if (!found) throw new Error(`no coordinator found for group ${groupId}`);
          return found.nodeId;
        });
        known.set(groupId, p);
        p.catch(() => known.delete(groupId));
      }
      return p;
    },
    forget() {
      known.clear();
    },
    async close() {
      const a = admin;
      admin = null;
      if (a) await a.close().catch(() => undefined);
    },
  };
}
