// Shared by the backoff tests: mocked setTimeout, so seconds of waiting are ticked, not slept.

/** Mock `setTimeout` for test context `t`; returns `advance(ms)`, which lets pending work
 * (a failed fetch's handlers, say) arm its timers, ticks `ms`, then lets the fired ones run. */
export function mockTimeouts(t) {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return async (ms) => {
    await settle();
    t.mock.timers.tick(ms);
    await settle();
  };
}
