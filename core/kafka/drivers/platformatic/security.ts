// Placeholder until the secured-connection work lands (it replaces this file): plaintext only.
import type { BaseOptions } from '@platformatic/kafka';
import type { BitPredictError } from '../../../errors.js';
import type { KafkaSecurity } from '../../driver.js';

export function platformaticSecurityOptions(sec: KafkaSecurity): Pick<BaseOptions, 'tls' | 'sasl'> {
  if (sec.tls || sec.sasl) throw new Error('secured connections are not wired into the platformatic driver yet');
  return {};
}

export function classifySecurityError(_err: unknown): BitPredictError | null {
  return null;
}
