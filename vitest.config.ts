import { defineConfig } from "vitest/config";

// Kernel tests create namespaces, veths and bpffs pins; running files one at a
// time keeps them from competing for the two cores and makes failures readable.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "native/test/**/*.test.ts"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ["default", "./test/summary-reporter.ts"],
  },
});
