// The @platformatic/kafka driver (BITPREDICT_KAFKA_CLIENT=platformatic): a maintained client that
// produces about three times faster than kafkajs here. See core/kafka/driver.ts for the contract
// both drivers keep.
import type { KafkaDriver, DriverSettings } from '../../driver.js';
import { createPlatformaticAdmin } from './admin.js';
import { toError } from './base.js';
import { createPlatformaticConsumer } from './consumer.js';
import { createGroupCoordinators } from './coordinators.js';
import { registerSecurity } from './security.js';
import { createPlatformaticProducer, createPlatformaticTransactionalProducer } from './producer.js';
import { fixVarInt64 } from './varint.js';

export function createPlatformaticDriver(settings: DriverSettings): KafkaDriver {
  fixVarInt64();
  registerSecurity(settings.brokers, settings.security);
  // Shared by this client's transactional producers; its admin connection opens on first use and
  // closes with the last of them, so it never keeps a finished process alive.
  const coordinators = createGroupCoordinators(settings);
  let open = 0;
  const transactionalProducer = async (transactionalId: string) => {
    const p = await createPlatformaticTransactionalProducer(settings, transactionalId, coordinators);
    open++;
    let closed = false;
    return {
      sendWithOffsets: p.sendWithOffsets,
      async close() {
        await p.close();
        if (closed) return;
        closed = true;
        if (--open === 0) await coordinators.close();
      },
    };
  };
  return {
    name: 'platformatic',
    admin: () => createPlatformaticAdmin(settings),
    producer: () => createPlatformaticProducer(settings),
    transactionalProducer,
    consumer: (opts) => createPlatformaticConsumer(settings, opts),
    toError: (err) => toError(err, settings.brokers),
  };
}
