/**
 * Demo login: account name -> `POST /api/sessions` -> bearer token with its expiry.
 *
 * The session (account, token, expires_at) is kept in the browser's storage so that a reload
 * or a new tab stays logged in until the token expires; it never goes in the URL bar. On start
 * a stored session is used only if it has not expired and the server still accepts it
 * (`GET /api/account`); otherwise it is dropped and the form shows. "Log out" forgets it.
 *
 * Exports createLogin(form, { who, logoutButton, onLogin, onLogout, storage, fetchImpl, now })
 *   -> { restore(): Promise<boolean>, logout(message?) }
 * and the pure helpers readSession(storage, nowMs), saveSession(storage, session), SESSION_KEY.
 */
export const SESSION_KEY = "tickwire.session";
// A token this close to its expiry is not worth restoring: the sockets would drop at once.
const EXPIRY_MARGIN_MS = 5000;

/** The stored session if it is well formed and still valid at nowMs, else null (and forgotten). */
export function readSession(storage, nowMs) {
  let raw = null;
  try {
    raw = storage?.getItem(SESSION_KEY) ?? null;
  } catch {
    return null; // storage refused (privacy mode): behave as logged out
  }
  if (!raw) return null;
  let session = null;
  try {
    session = JSON.parse(raw);
  } catch {
    session = null;
  }
  const valid =
    session &&
    typeof session.account === "string" &&
    typeof session.token === "string" &&
    Number.isFinite(session.expiresAtMs) &&
    session.expiresAtMs - EXPIRY_MARGIN_MS > nowMs;
  if (!valid) {
    forgetSession(storage);
    return null;
  }
  return { account: session.account, token: session.token, expiresAtMs: session.expiresAtMs };
}

export function saveSession(storage, { account, token, expiresAtMs }) {
  try {
    storage?.setItem(SESSION_KEY, JSON.stringify({ account, token, expiresAtMs }));
  } catch {
    // storage full or refused: the session lives in memory only, as before
  }
}

export function forgetSession(storage) {
  try {
    storage?.removeItem(SESSION_KEY);
  } catch {
    // nothing stored
  }
}

export function createLogin(
  form,
  { who, logoutButton, onLogin, onLogout = () => {}, storage = globalThis.localStorage, fetchImpl = fetch, now = () => Date.now() },
) {
  const input = form.elements.account;
  const error = form.querySelector("[data-error]");
  let expiryTimer = null;

  function show(session) {
    form.hidden = true;
    who.hidden = false;
    who.textContent = session.account;
    who.title = `logged in until ${new Date(session.expiresAtMs).toLocaleString()}`;
    if (logoutButton) logoutButton.hidden = false;
    clearTimeout(expiryTimer);
    // setTimeout holds at most ~24.8 days; a demo token lives hours
    const left = Math.min(session.expiresAtMs - now(), 2 ** 31 - 1);
    expiryTimer = setTimeout(() => loggedOut("session expired: log in again"), Math.max(0, left));
    onLogin(session);
  }

  function loggedOut(message = "") {
    clearTimeout(expiryTimer);
    forgetSession(storage);
    form.hidden = false;
    who.hidden = true;
    who.textContent = "";
    if (logoutButton) logoutButton.hidden = true;
    error.textContent = message;
    onLogout();
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const account = input.value.trim();
    if (!/^[A-Za-z0-9._-]{1,32}$/.test(account)) {
      error.textContent = "Use 1-32 letters, digits, . _ -";
      return;
    }
    error.textContent = "";
    try {
      const response = await fetchImpl("/api/sessions", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ account }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
      // expires_at is the JWT's exp: seconds since the epoch
      const session = { account: body.account, token: body.token, expiresAtMs: Number(body.expires_at) * 1000 };
      saveSession(storage, session);
      show(session);
    } catch (err) {
      error.textContent = `Login failed: ${err.message}`;
    }
  });
  logoutButton?.addEventListener("click", () => loggedOut());

  return {
    /** Use the stored session if the server still takes it; true when logged in. */
    async restore() {
      const session = readSession(storage, now());
      if (!session) return false;
      let status = 0; // 0: the server could not be reached
      try {
        status = (await fetchImpl("/api/account", { headers: { Authorization: `Bearer ${session.token}` } })).status;
      } catch {
        status = 0;
      }
      // Unreachable or failing (5xx): keep the session, the sockets retry until it answers.
      if (status !== 0 && status < 500 && (status < 200 || status > 299)) {
        loggedOut(status === 401 ? "session no longer valid: log in again" : "");
        return false;
      }
      show(session);
      return true;
    },
    logout: loggedOut,
  };
}
