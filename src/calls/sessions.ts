/** What a supervisor can do to one live ConversationRelay session. */
export interface LiveCallControl {
  /** Speaks the text to the caller now (as text tokens) and records it as a supervisor turn. */
  speak(text: string): Promise<void>;
  /** Plays DTMF digits on the call. */
  sendDigits(digits: string): Promise<void>;
  /** Ends the relay session with a transfer handoff; the relay action then dials the target. */
  transfer(target: string): Promise<void>;
  /** Ends the relay session; the relay action hangs up. */
  end(reason?: string): Promise<void>;
}

/** The live relay sessions of this process, by call SID. */
export class SessionRegistry {
  private readonly byCallSid = new Map<string, LiveCallControl>();

  get(callSid: string): LiveCallControl | undefined {
    return this.byCallSid.get(callSid);
  }

  /** Registers a session; the returned function unregisters it (only if it is still the one registered). */
  register(callSid: string, control: LiveCallControl): () => void {
    this.byCallSid.set(callSid, control);
    return () => {
      if (this.byCallSid.get(callSid) === control) this.byCallSid.delete(callSid);
    };
  }

  size(): number {
    return this.byCallSid.size;
  }

  all(): LiveCallControl[] {
    return [...this.byCallSid.values()];
  }
}
