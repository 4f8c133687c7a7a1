import type { FastifyInstance } from 'fastify';
import type { AppOptions } from '../app.js';

/** Twilio's side of calls: voice/status webhooks, relay action, and the ConversationRelay socket. */
export async function twilioEdge(app: FastifyInstance, opts: AppOptions): Promise<void> {
  void app; void opts;
}
