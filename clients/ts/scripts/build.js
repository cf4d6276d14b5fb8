// Builds dist/ (ES modules and declarations) from src/ with tsc.
// dist/ is committed, since the Go server embeds it to serve pages that need
// no npm step; --check builds into a temporary folder instead and fails if
// that differs from the committed dist/, so a stale dist/ is caught.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "parley-dist-")) : join(root, "dist");

rmSync(out, { recursive: true, force: true });
execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", out], { stdio: "inherit" });

if (check) {
  const built = files(out);
  const committed = files(join(root, "dist"));
  const stale = [...new Set([...built.keys(), ...committed.keys()])].filter((f) => {
    const a = built.get(f);
    const b = committed.get(f);
    return !a || !b || !a.equals(b);
  });
  rmSync(out, { recursive: true, force: true });
  if (stale.length > 0) {
    console.error(`clients/ts/dist is stale (${stale.join(", ")}); run npm run build and commit dist/`);
    process.exit(1);
  }
}

/** Every file under dir, by path relative to it. */
function files(dir) {
  const found = new Map();
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      found.set(relative(dir, path), readFileSync(path));
    }
  }
  return found;
}
