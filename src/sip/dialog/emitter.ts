/** The dialog layer's events use the shared emitter. */
export { Emitter } from '../../lib/emitter.js';
