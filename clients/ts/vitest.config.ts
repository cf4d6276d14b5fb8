import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The integration test builds the Go server first.
    hookTimeout: 180_000,
  },
});
