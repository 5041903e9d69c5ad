// Static rules of the browser code (DESIGN.md "Browser"): no HTML sinks, every message switch
// ends in `default: throw`, no CDN or remote URL, every import resolves inside web/.
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = ["main.js", ...readdirSync(join(WEB, "js")).filter((f) => f.endsWith(".js")).map((f) => `js/${f}`)];
const read = (file) => readFileSync(join(WEB, file), "utf8");

test("no HTML sinks: text goes in with textContent", () => {
  for (const file of SOURCES) {
    assert.doesNotMatch(read(file), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, file);
  }
});

test("every switch over a message or event type ends in default: throw", () => {
  let switches = 0;
  for (const file of SOURCES) {
    const source = read(file);
    for (const match of source.matchAll(/switch \((msg\.type|event)\) \{/g)) {
      switches += 1;
      // The switch's own closing brace is the first line with its indentation and "}".
      const start = match.index;
      const indent = source.slice(source.lastIndexOf("\n", start) + 1, start);
      const end = source.indexOf(`\n${indent}}`, start);
      const body = source.slice(start, end);
      assert.match(body, /default:\s*\n\s*throw new Error/, `${file}: switch at ${start}`);
    }
  }
  assert.ok(switches >= 3, "the transports, the order tracker and the market store each have one");
});

test("nothing is loaded from another host, and every import exists", () => {
  const html = read("index.html");
  assert.doesNotMatch(html, /(src|href)="https?:/);
  for (const file of SOURCES) {
    const source = read(file);
    assert.doesNotMatch(source, /from "https?:/, file);
    for (const [, spec] of source.matchAll(/from "([^"]+)"/g)) {
      const target = spec.startsWith("/vendor/lightweight-charts/")
        ? join(WEB, "node_modules/lightweight-charts/dist", spec.slice("/vendor/lightweight-charts/".length))
        : join(WEB, dirname(file), spec);
      assert.ok(existsSync(target), `${file} imports ${spec}`);
    }
  }
});
