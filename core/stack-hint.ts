// "run: npm run stack:up" is the right advice for a developer whose configuration points at the
// local stack (cli/stack starts Kafka, the registry and Redis on these loopback addresses), and
// misleading anywhere else: in a cluster it sends the operator to a command that does not exist
// there. Connection errors add the hint only for these defaults, and name the setting otherwise.

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** The local stack's addresses: the configuration defaults (core/config.ts) and where cli/stack listens. */
export const LOCAL_STACK = { kafkaPort: '9092', registryPort: '8081', redisPort: '6379' } as const;

function isLocal(host: string, port: string, expected: string): boolean {
  return LOCAL_HOSTS.has(host.toLowerCase()) && port === expected;
}

/** True when every bootstrap address is the local stack's broker (127.0.0.1:9092 or localhost:9092). */
export function isLocalStackKafka(brokers: readonly string[]): boolean {
  return (
    brokers.length > 0 &&
    brokers.every((b) => {
      const i = b.lastIndexOf(':');
      return i > 0 && isLocal(b.slice(0, i), b.slice(i + 1), LOCAL_STACK.kafkaPort);
    })
  );
}

/** True when a URL (registry, Redis) points at the local stack's port on loopback. */
export function isLocalStackUrl(url: string, service: 'registry' | 'redis'): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return isLocal(u.hostname, u.port, service === 'registry' ? LOCAL_STACK.registryPort : LOCAL_STACK.redisPort);
}

/** What to add to a "did not answer" message: the stack command on the local stack, the setting to check elsewhere. */
export function unreachableHint(local: boolean, setting: string): string {
  return local ? 'is the stack up? run: npm run stack:up' : `check ${setting} and that it is reachable from here`;
}
