/** Sign in with an API key, or with an agent's username and password (POST /auth/login). */
import { useState } from 'react';
import { signIn, type Session } from '../api';
import { ErrorLine } from '../ui';

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [mode, setMode] = useState<'key' | 'login'>('key');
  const [key, setKey] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <main className="sign-in">
      <h1>Dialtone</h1>
      <div className="tabs" role="tablist">
        <button role="tab" aria-selected={mode === 'key'} onClick={() => setMode('key')}>API key</button>
        <button role="tab" aria-selected={mode === 'login'} onClick={() => setMode('login')}>Agent login</button>
      </div>
      <form onSubmit={(e) => {
        e.preventDefault();
        setError(null);
        setBusy(true);
        signIn(mode === 'key' ? { key } : { username, password })
          .then(onSignedIn, (err: Error) => setError(err.message))
          .finally(() => setBusy(false));
      }}>
        {mode === 'key'
          ? <label>API key<input name="key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} /></label>
          : <>
            <label>Username<input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} /></label>
            <label>Password<input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} /></label>
          </>}
        <button type="submit" disabled={busy}>Sign in</button>
        <ErrorLine error={error} />
      </form>
    </main>
  );
}
