import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { PUBLIC_ROUTE, TOKEN_ROUTE, type AppOptions } from '../../context.js';
import { LoginReply, replies, schema } from './schemas.js';

const LoginBody = Type.Object({
  username: Type.String({ maxLength: 256 }),
  password: Type.String({ maxLength: 1024 }),
}, { examples: [{ username: 'dana', password: 's3cret' }] });

/** `POST /auth/login`: public; answers with a token and sets it as the `token` cookie. */
export async function loginRoute(app: FastifyInstance, opts: AppOptions): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post('/auth/login', { config: { ...PUBLIC_ROUTE, ...TOKEN_ROUTE, loginAttempt: true }, schema: schema({ summary: 'Log in as an agent (answers a login token)', body: LoginBody, response: replies(LoginReply) }) }, async (req, reply) => {
    const { agent, token } = await opts.services.directory.login(req.body.username, req.body.password);
    void reply.setCookie('token', token, { httpOnly: true, sameSite: 'lax', path: '/', secure: req.protocol === 'https' });
    return { username: agent.username ?? req.body.username, token };
  });
}
