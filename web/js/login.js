/**
 * Demo login: account name -> `POST /api/sessions` -> bearer token, kept in memory only (never
 * in storage or the URL bar). Exports createLogin(form, { who, onLogin }) -> { logout() }.
 */
export function createLogin(form, { who, onLogin, fetchImpl = fetch }) {
  const input = form.elements.account;
  const error = form.querySelector("[data-error]");
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
      form.hidden = true;
      who.hidden = false;
      who.textContent = body.account;
      onLogin({ account: body.account, token: body.token });
    } catch (err) {
      error.textContent = `Login failed: ${err.message}`;
    }
  });
  return {};
}
