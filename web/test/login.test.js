// The stored session: restored until its expiry if the server still takes it, never when
// malformed, expired or refused; kept (not dropped) while the server cannot be reached.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SESSION_KEY, createLogin, readSession, saveSession } from "../js/login.js";

function memoryStorage() {
  const data = new Map();
  return {
    data,
    getItem: (k) => (data.has(k) ? data.get(k) : null),
    setItem: (k, v) => data.set(k, String(v)),
    removeItem: (k) => data.delete(k),
  };
}

function fakeForm() {
  const listeners = {};
  return {
    hidden: false,
    elements: { account: { value: "" } },
    error: { textContent: "" },
    querySelector() {
      return this.error;
    },
    addEventListener: (name, fn) => (listeners[name] = fn),
    listeners,
  };
}

const NOW = 1_800_000_000_000;

test("a saved session reads back until 5 s before it expires, then is forgotten", () => {
  const storage = memoryStorage();
  saveSession(storage, { account: "alice", token: "t", expiresAtMs: NOW + 60_000 });
  assert.deepEqual(readSession(storage, NOW), { account: "alice", token: "t", expiresAtMs: NOW + 60_000 });
  assert.equal(readSession(storage, NOW + 56_000), null);
  assert.equal(storage.getItem(SESSION_KEY), null, "an expired session is removed");
});

test("malformed stored sessions are dropped, not trusted", () => {
  for (const raw of ["{", "null", "[]", '{"account":"a","token":1,"expiresAtMs":9e15}', '{"account":"a","token":"t"}']) {
    const storage = memoryStorage();
    storage.setItem(SESSION_KEY, raw);
    assert.equal(readSession(storage, NOW), null, raw);
    assert.equal(storage.getItem(SESSION_KEY), null, raw);
  }
  const refusing = { getItem: () => { throw new Error("denied"); } };
  assert.equal(readSession(refusing, NOW), null);
});

async function restoreWith(status) {
  const storage = memoryStorage();
  saveSession(storage, { account: "bob", token: "tok", expiresAtMs: NOW + 3_600_000 });
  const logins = [];
  const who = { hidden: true, textContent: "" };
  const fetchImpl = async (path, options) => {
    assert.equal(path, "/api/account");
    assert.equal(options.headers.Authorization, "Bearer tok");
    if (status === "down") throw new TypeError("Failed to fetch");
    return { status, ok: status >= 200 && status < 300 };
  };
  const login = createLogin(fakeForm(), { who, onLogin: (s) => logins.push(s), storage, fetchImpl, now: () => NOW });
  const restored = await login.restore();
  login.logout(); // clears the expiry timer (and the storage)
  return { restored, logins, storedBefore: logins.length > 0 };
}

test("restore logs in with a session the server accepts", async () => {
  const { restored, logins } = await restoreWith(200);
  assert.equal(restored, true);
  assert.deepEqual(logins.map((s) => [s.account, s.token]), [["bob", "tok"]]);
});

test("restore drops a session the server refuses", async () => {
  const { restored, logins } = await restoreWith(401);
  assert.equal(restored, false);
  assert.deepEqual(logins, []);
});

test("restore keeps the session while the server is unreachable or failing", async () => {
  for (const status of ["down", 503]) {
    const { restored, logins } = await restoreWith(status);
    assert.equal(restored, true, String(status));
    assert.equal(logins.length, 1);
  }
});
