// The kafkajs driver: BitPredict's Kafka driver interface (core/kafka/driver.ts) on kafkajs 2.x.
// This folder is the only place that imports kafkajs (bench/ aside, for its raw baselines); one
// Kafka instance per driver holds the connection settings, and every error leaves as a
// BitPredictError mapped in errors.ts.
import kafkajs from 'kafkajs';
import type { DriverSettings, KafkaDriver } from '../../driver.js';
import { createKafkaJsAdmin } from './admin.js';
import { kafkaJsConfig } from './connection.js';
import { createKafkaJsConsumer } from './consumer.js';
import { toKafkaError } from './errors.js';
import { createKafkaJsProducer, createKafkaJsTransactionalProducer } from './producer.js';

export function createKafkaJsDriver(settings: DriverSettings): KafkaDriver {
  const kafka = new kafkajs.Kafka(kafkaJsConfig(settings));
  const { brokers, security } = settings;
  const toError = (err: unknown) => toKafkaError(err, { brokers, security });
  return {
    name: 'kafkajs',
    admin: () => createKafkaJsAdmin(kafka, toError),
    producer: () => createKafkaJsProducer(kafka, toError),
    transactionalProducer: (transactionalId) =>
      createKafkaJsTransactionalProducer(kafka, transactionalId, (err) => toKafkaError(err, { brokers, transactionalId, security })),
    consumer: (opts) => createKafkaJsConsumer(kafka, opts, toError),
    toError,
  };
}
