import { defineConfig } from "vitest/config";

const conditions = ["@trainkit/source"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "tests/**/*.test.ts"],
    typecheck: {
      enabled: true,
      include: ["packages/*/test/**/*.test-d.ts", "tests/**/*.test-d.ts"],
      tsconfig: "./tsconfig.json",
    },
    benchmark: { include: ["packages/*/bench/**/*.bench.ts", "tests/**/*.bench.ts"] },
    pool: "forks",
    // The suite runs CPU-heavy engine files beside each other on 2 cores: 5 s (the default) is too
    // tight for a test that takes 1-3 s alone. Tests that take longer still set their own limit.
    testTimeout: 30_000,
    globalSetup: ["./tests/global-setup.ts"],
  },
});
