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
    globalSetup: ["./tests/global-setup.ts"],
  },
});
