// Key management over HTTP: list, create, revoke. Every route declares config.scope = 'admin';
// the app's onRequest hook runs the auth guard for routes with a scope, so nothing here checks
// keys itself. The plaintext key appears once, in the 201 answer to POST; answers never carry hashes
// (the response schemas list the fields that may leave, and serialization drops any other).
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { isBitPredictError } from '../../core/errors.js';
import { NAME_MAX, type KeyStore } from './keys.js';
// Loads the FastifyContextConfig.scope declaration that the routes' config relies on.
import type {} from './guard.js';

const ScopeSchema = Type.Union([Type.Literal('read'), Type.Literal('admin')], { description: 'read: streams and data; admin: also key management' });

export const ApiKeyRecordSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[0-9a-f]{12}$', description: 'public key id (the <id> in bpk_<id>_<secret>)' }),
    name: Type.String(),
    scope: ScopeSchema,
    createdAt: Type.String({ format: 'date-time' }),
    revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);

const ErrorSchema = Type.Object({ code: Type.String(), message: Type.String() });

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{12}$' }) });
type IdParams = Static<typeof IdParams>;

const CreateBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: NAME_MAX, pattern: '\\S', description: 'who or what the key is for' }),
    scope: ScopeSchema,
  },
  { additionalProperties: false },
);
type CreateBody = Static<typeof CreateBody>;

const ListReply = Type.Object({ keys: Type.Array(ApiKeyRecordSchema) });
const CreateReply = Type.Object({
  key: Type.String({ description: 'the API key, bpk_<id>_<secret>: shown only in this answer, never again' }),
  record: ApiKeyRecordSchema,
});

export interface KeyRoutesOptions {
  store: KeyStore;
}

// Store failures are Redis being down (retryable: 503) or a rule the schema let through (400).
function storeFailure(reply: FastifyReply, err: unknown): FastifyReply {
  if (isBitPredictError(err) && err.code === 'ERR_VALIDATION') return reply.code(400).send({ code: 'ERR_VALIDATION', message: err.message });
  if (isBitPredictError(err) && err.retryable) {
    reply.log.warn({ err }, 'API key store unavailable');
    return reply.code(503).send({ code: 'ERR_UNAVAILABLE', message: 'API key store unavailable; retry later' });
  }
  throw err;
}

export const registerKeyRoutes: FastifyPluginAsync<KeyRoutesOptions> = async (app, { store }) => {
  app.get(
    '/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'List API keys (ids, names, scopes; never secrets)',
        response: { 200: ListReply, 503: ErrorSchema },
      },
    },
    async (_req, reply) => {
      try {
        return reply.send({ keys: await store.list() });
      } catch (err) {
        return storeFailure(reply, err);
      }
    },
  );

  app.post<{ Body: CreateBody }>(
    '/v1/keys',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Create an API key; the key is in this answer only',
        body: CreateBody,
        response: { 201: CreateReply, 400: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (req, reply) => {
      try {
        const created = await store.create(req.body.name, req.body.scope);
        reply.log.info({ keyId: created.record.id, name: created.record.name, scope: created.record.scope }, 'API key created');
        return reply.code(201).header('cache-control', 'no-store').send(created);
      } catch (err) {
        return storeFailure(reply, err);
      }
    },
  );

  app.delete<{ Params: IdParams }>(
    '/v1/keys/:id',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key (idempotent); open WebSockets using it close with 4001',
        params: IdParams,
        response: { 200: ApiKeyRecordSchema, 404: ErrorSchema, 503: ErrorSchema },
      },
    },
    async (req, reply) => {
      try {
        const record = await store.revoke(req.params.id);
        if (!record) return reply.code(404).send({ code: 'ERR_NOT_FOUND', message: `no API key with id ${req.params.id}` });
        reply.log.info({ keyId: record.id }, 'API key revoked');
        return reply.send(record);
      } catch (err) {
        return storeFailure(reply, err);
      }
    },
  );
};
