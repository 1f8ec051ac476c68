// The serving pipeline as the end-to-end tests run it in-process on a test platform: the gateway
// (on an ephemeral port), the feature processor and the predictor, started and joined to their
// groups. The caller stops `services` in reverse order; a start that fails stops what it made.
import { createFeatureProcessor } from '../../processors/features/service.js';
import { createPredictor } from '../../processors/predictor/service.js';
import { createGateway, type GatewayService } from '../../gateway/service.js';
import type { Service } from '../../core/service.js';
import { waitFor, type TestPlatform } from './platform.js';

export interface ServingPipeline {
  gateway: GatewayService;
  /** gateway, feature processor, predictor: stop them in reverse order. */
  services: Service[];
}

export async function startServingPipeline(tp: TestPlatform, onFatal: (err: unknown) => void): Promise<ServingPipeline> {
  const deps = { platform: tp.platform, config: tp.config, redis: tp.redis, onFatal };
  const gateway = await createGateway({ ...deps, host: '127.0.0.1', port: 0 });
  const services: Service[] = [gateway, await createFeatureProcessor(deps), await createPredictor(deps)];
  try {
    for (const s of services) await s.start();
    await waitFor(() => services.every((s) => s.readiness().ready), 'services to join their groups');
  } catch (err) {
    for (const s of [...services].reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
  return { gateway, services };
}
