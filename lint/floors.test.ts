// The floor rules on code written for the test: a service importing another service, core/
// importing a service, schemas/ importing core/, a Kafka client library outside its driver, and a cycle.
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import floors, { findCycles, floorViolation, projectCycles, unitOf } from './floors.js';

const ROOT = resolve(fileURLToPath(new URL('../', import.meta.url)));

function lint(file: string, code: string): string[] {
  const linter = new Linter({ configType: 'flat', cwd: ROOT });
  const messages = linter.verify(
    code,
    [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { floors },
        rules: { 'floors/no-cross-floor': 'error', 'floors/no-cycle': 'error' },
      },
    ],
    resolve(ROOT, file),
  );
  return messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

describe('floors/no-cross-floor', () => {
  it('refuses a service importing another service', () => {
    const errors = lint('gateway/evil.ts', "import { retrain } from '../trainer/retrain.js';\nexport const x = retrain;\n");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/floors\/no-cross-floor: services import only core\/ and schemas\/.*gateway\/ may not import trainer\//);
    expect(lint('processors/features/evil.ts', "export { createSentimentProcessor } from '../sentiment/service.js';\n")[0]).toMatch(
      /processors\/features\/ may not import processors\/sentiment\//,
    );
    expect(lint('trainer/evil.ts', "const m = await import('../producers/replay/service.js');\nexport default m;\n")[0]).toMatch(
      /trainer\/ may not import producers\/replay\//,
    );
  });

  it('refuses core/ importing a service or the CLI, and schemas/ importing anything', () => {
    expect(lint('core/evil.ts', "import type { Hub } from '../gateway/stream/hub.js';\nexport type H = Hub;\n")[0]).toMatch(/core\/ imports no service/);
    expect(lint('core/evil.ts', "import type { CommandContext } from '../cli/context.js';\nexport type C = CommandContext;\n")[0]).toMatch(/cli\/ sits on top/);
    expect(lint('schemas/evil.ts', "import { errorMessage } from '../core/errors.js';\nexport const e = errorMessage;\n")[0]).toMatch(
      /schemas\/ imports nothing of the project/,
    );
  });

  it('refuses kafkajs, prom-client, pino and ioredis outside their owners in core/, and a file under producers/ or processors/ that belongs to no service', () => {
    expect(lint('processors/features/evil.ts', "import type { Consumer } from 'kafkajs';\nexport type C = Consumer;\n")[0]).toMatch(
      /only core\/kafka\/drivers\/kafkajs imports kafkajs/,
    );
    expect(lint('gateway/evil.ts', "import { Counter } from 'prom-client';\nexport const c = Counter;\n")[0]).toMatch(
      /only core\/metrics.ts imports prom-client/,
    );
    expect(lint('gateway/evil.ts', "import type { Logger } from 'pino';\nexport type L = Logger;\n")[0]).toMatch(/only core\/logger.ts imports pino/);
    expect(lint('trainer/evil.ts', "import { Redis } from 'ioredis';\nexport const r = Redis;\n")[0]).toMatch(/only core\/redis.ts imports ioredis/);
    expect(lint('gateway/ok.test.ts', "import { Registry } from 'prom-client';\nexport const r = Registry;\n")).toEqual([]);
    expect(lint('producers/loose.ts', "import { x } from '../core/errors.js';\nexport const y = x;\n")[0]).toMatch(/is on no floor/);
  });

  it('keeps each Kafka client library in its own driver folder; bench/ baselines may use either', () => {
    const kafkajs = "import kafkajs from 'kafkajs';\nexport const k = kafkajs;\n";
    const platformatic = "import { Producer } from '@platformatic/kafka';\nexport const p = Producer;\n";
    for (const file of ['core/kafka/consumer.ts', 'core/kafka/runner/batch.ts', 'core/kafka/drivers/platformatic/consumer.ts', 'core/kafka/kafka.test.ts']) {
      expect(lint(file, kafkajs), file).toEqual([expect.stringMatching(/only core\/kafka\/drivers\/kafkajs imports kafkajs/)]);
    }
    for (const file of ['core/kafka/client.ts', 'core/kafka/drivers/kafkajs/consumer.ts', 'gateway/evil.ts', 'test/helpers/evil.test.ts']) {
      expect(lint(file, platformatic), file).toEqual([expect.stringMatching(/only core\/kafka\/drivers\/platformatic imports @platformatic\/kafka/)]);
    }
    expect(lint('core/kafka/drivers/kafkajs/consumer.ts', kafkajs)).toEqual([]);
    expect(lint('core/kafka/drivers/kafkajs/errors.test.ts', kafkajs)).toEqual([]);
    expect(lint('core/kafka/drivers/platformatic/consumer.ts', platformatic)).toEqual([]);
    expect(lint('bench/common.ts', kafkajs)).toEqual([]);
    expect(lint('bench/common.ts', platformatic)).toEqual([]);
  });

  it('allows what the plan allows', () => {
    const ok = [
      [
        'gateway/ok.ts',
        "import { errorMessage } from '../core/errors.js';\nimport type { Prediction } from '../schemas/types.js';\nimport { x } from './stream/hub.js';\nexport const a = [errorMessage, x];\nexport type P = Prediction;\n",
      ],
      ['cli/ok.ts', "import { x } from '../gateway/service.js';\nimport { y } from '../trainer/retrain.js';\nexport const a = [x, y];\n"],
      ['trainer/ok.test.ts', "import { x } from '../processors/predictor/service.js';\nexport const a = x;\n"],
      ['core/ok.ts', "import type { Candle } from '../schemas/types.js';\nexport type C = Candle;\n"],
    ] as const;
    for (const [file, code] of ok) expect(lint(file, code), file).toEqual([]);
  });

  it('places paths on floors', () => {
    expect(unitOf('schemas/index.ts')).toBe('schemas');
    expect(unitOf('core/features/join.ts')).toBe('core');
    expect(unitOf('processors/predictor/service.ts')).toBe('processors/predictor');
    expect(unitOf('producers/text/domain/feed.ts')).toBe('producers/text');
    expect(unitOf('bench/run.ts')).toBe('top');
    expect(floorViolation('producers/poll/service.ts', 'producers/replay/service.ts')).toMatch(/producers\/poll\/ may not import producers\/replay\//);
    expect(floorViolation('producers/poll/service.ts', 'producers/poll/domain/histo.ts')).toBeNull();
  });
});

describe('floors/no-cycle', () => {
  it('finds every strongly connected group of files, type-only imports included', () => {
    const g = new Map<string, string[]>([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
      ['e', ['e']],
      ['f', ['a']],
    ]);
    expect(findCycles(g).sort()).toEqual([['a', 'b', 'c'], ['e']]);
    expect(
      findCycles(
        new Map([
          ['x', ['y']],
          ['y', []],
        ]),
      ),
    ).toEqual([]);
  });

  it('the project itself has no cycle', () => {
    expect(projectCycles(ROOT)).toEqual([]);
  });
});
