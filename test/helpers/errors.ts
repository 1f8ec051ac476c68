// The BitPredictError a promise rejects with (the test fails when it resolves or rejects with anything else).
import { expect } from 'vitest';
import { BitPredictError } from '../../core/errors.js';

export async function rejection(p: Promise<unknown>): Promise<BitPredictError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BitPredictError);
    return err as BitPredictError;
  }
  throw new Error('expected a BitPredictError, the promise resolved');
}
