// The race's sentence per lane: every lane has one, and SSE's follows the page's HTTP version.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RACE_LANES } from "../js/race_lanes.js";
import { laneNote } from "../js/raceview.js";

test("every race lane says what it is; SSE says which HTTP it rides", () => {
  for (const lane of RACE_LANES) assert.ok(laneNote(lane, "http/1.1").length > 20, lane);
  assert.match(laneNote("sse", "h2"), /^SSE over HTTP\/2/);
  assert.match(laneNote("sse", "http/1.1"), /six per origin/);
  assert.equal(laneNote("nope"), "");
});
