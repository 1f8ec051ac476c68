// How kafkajs reaches the cluster: the settings of the one Kafka instance a driver holds
// (timeouts, connection retries, logging) and BitPredict's KafkaSecurity as kafkajs' `ssl` and
// `sasl` options.
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import type { DriverSettings, KafkaSecurity } from '../../driver.js';
import { kafkaLogLevel, pinoLogCreator } from './logging.js';

/** kafkajs' `ssl` and `sasl` for a security description; neither key for a plaintext listener. */
export function kafkaJsSecurity(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.tls) {
    const { ca, cert, key, rejectUnauthorized } = security.tls;
    out.ssl = { rejectUnauthorized, ...(ca === undefined ? {} : { ca }), ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) };
  }
  if (security.sasl) out.sasl = kafkaJsSasl(security.sasl);
  return out;
}

function kafkaJsSasl(sasl: NonNullable<KafkaSecurity['sasl']>): SASLOptions {
  if (sasl.mechanism === 'oauthbearer') {
    const token = sasl.token;
    // kafkajs calls the provider at every (re)authentication, so a refreshed token is picked up.
    return { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: await token() }) };
  }
  const { username, password } = sasl;
  switch (sasl.mechanism) {
    case 'plain':
      return { mechanism: 'plain', username, password };
    case 'scram-sha-256':
      return { mechanism: 'scram-sha-256', username, password };
    case 'scram-sha-512':
      return { mechanism: 'scram-sha-512', username, password };
  }
}

export function kafkaJsConfig(settings: DriverSettings): KafkaConfig {
  return {
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: kafkaLogLevel(settings.logger),
    logCreator: pinoLogCreator(settings.logger),
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { retries: settings.connectRetries, initialRetryTime: 300, maxRetryTime: 5000 },
    ...kafkaJsSecurity(settings.security),
  };
}
