import { describe, expect, it } from "vitest";
import {
  ConfigError,
  type ConfigIssue,
  codedErrorGuard,
  formatIssue,
  isConfigError,
  isUsageError,
  listProblems,
  maskUriCredentials,
  PROBLEMS_SHOWN,
  redactValue,
  renderOrigin,
  renderValue,
  UsageError,
} from "../src/index.ts";

const invalid: ConfigIssue = {
  code: "INVALID_VALUE",
  path: "training.batchSize",
  message: "must be a positive integer",
  hasValue: true,
  value: -4,
  origin: "--batch-size on the command line",
};

describe("renderValue", () => {
  it("shows numbers as typed, strings quoted, and shortens long values", () => {
    expect(renderValue(-4)).toBe("-4");
    expect(renderValue("gpu")).toBe('"gpu"');
    expect(renderValue(null)).toBe("null");
    expect(renderValue(undefined)).toBe("undefined");
    expect(renderValue([1, 2])).toBe("[1,2]");
    const long = renderValue("x".repeat(200));
    expect(long).toHaveLength(80);
    expect(long.endsWith("...")).toBe(true);
  });

  it("masks secrets and the password of a URI", () => {
    expect(renderValue("https://user:s3cr3t@host", true)).toBe("***");
    expect(renderValue("https://user:s3cr3t@host/path")).toBe('"https://user:***@host/path"');
  });
});

describe("formatIssue", () => {
  it("says what is wrong, the value, where it came from and how to fix it", () => {
    expect(formatIssue(invalid)).toBe(
      "training.batchSize: must be a positive integer, got -4 (from --batch-size on the command line).",
    );
    expect(
      formatIssue({
        code: "UNKNOWN_KEY",
        path: "training.batch_sise",
        message: "is not a known setting",
        hasValue: false,
        hint: 'Did you mean "batchSize"?',
      }),
    ).toBe('training.batch_sise: is not a known setting. Did you mean "batchSize"?');
  });

  it("renders an origin kept as data only when the issue is shown", () => {
    const issue: ConfigIssue = { ...invalid, origin: { kind: "file", file: "exp.yaml", line: 4, column: 3 } };
    expect(formatIssue(issue)).toBe(
      "training.batchSize: must be a positive integer, got -4 (from exp.yaml:4:3).",
    );
    expect(formatIssue({ ...invalid, origin: { kind: "cli", token: "--set x=https://u:p@h" } })).toBe(
      'training.batchSize: must be a positive integer, got -4 (from "--set x=https://u:***@h" on the command line).',
    );
    expect(renderOrigin({ kind: "env", variable: "TRAINKIT_TRAINING_BATCH_SIZE" })).toBe(
      "environment variable TRAINKIT_TRAINING_BATCH_SIZE",
    );
    expect(renderOrigin("--timeout on the command line")).toBe("--timeout on the command line");
  });

  it("masks a secret field's value, and any value under a secret-looking name", () => {
    const secret = { ...invalid, path: "execution.mlflowTrackingUri", value: "s3cr3t", secret: true };
    expect(formatIssue(secret)).toBe(
      "execution.mlflowTrackingUri: must be a positive integer, got *** (from --batch-size on the command line).",
    );
    const byName = { ...invalid, path: "execution.api_token", value: "s3cr3t" };
    expect(formatIssue(byName)).not.toContain("s3cr3t");
    expect(formatIssue({ ...invalid, origin: "https://u:s3cr3t@host" })).not.toContain("s3cr3t");
  });
});

describe("ConfigError", () => {
  it("takes the code of its first issue and lists every issue", () => {
    const error = new ConfigError([
      invalid,
      { code: "MISSING_VALUE", path: "training.nGroups", message: "is required", hasValue: false },
    ]);
    expect(error.code).toBe("INVALID_VALUE");
    expect(error.issues).toHaveLength(2);
    expect(error.message).toMatchInlineSnapshot(`
      "2 problems:
        - training.batchSize: must be a positive integer, got -4 (from --batch-size on the command line).
        - training.nGroups: is required."
    `);
  });

  it("keeps one issue on one line, forwards its cause, and refuses to be empty", () => {
    const cause = new Error("underneath");
    const error = new ConfigError([invalid], { cause });
    expect(error.message).toBe(formatIssue(invalid));
    expect(error.cause).toBe(cause);
    expect(() => new ConfigError([])).toThrow(TypeError);
  });
});

describe("listProblems", () => {
  it("says one problem alone and several as a count and a list", () => {
    expect(listProblems("Study spec a.yaml", ["x: unknown key"])).toBe("Study spec a.yaml: x: unknown key");
    expect(listProblems(undefined, ["a", "b"])).toBe("2 problems:\n  - a\n  - b");
  });

  it("lists the first PROBLEMS_SHOWN and counts the rest, however many there are", () => {
    const problems = Array.from({ length: 64_000 }, (_, i) => `training.bogus${i}: is not a known setting`);
    const lines = listProblems("exp.yaml", problems).split("\n");
    expect(lines).toHaveLength(PROBLEMS_SHOWN + 2);
    expect(lines[0]).toBe("exp.yaml: 64000 problems:");
    expect(lines[PROBLEMS_SHOWN]).toBe(`  - training.bogus${PROBLEMS_SHOWN - 1}: is not a known setting`);
    expect(lines.at(-1)).toBe(`  ... and ${64_000 - PROBLEMS_SHOWN} more (64000 in all).`);
    const exactly = problems.slice(0, PROBLEMS_SHOWN);
    expect(listProblems(undefined, exactly).split("\n")).toHaveLength(PROBLEMS_SHOWN + 1);
  });

  it("keeps every issue on the ConfigError while its message lists the first ones", () => {
    const issues = Array.from(
      { length: 200 },
      (_, i): ConfigIssue => ({ ...invalid, path: `training.x${i}` }),
    );
    const error = new ConfigError(issues);
    expect(error.issues).toHaveLength(200);
    expect(error.message.split("\n")).toHaveLength(PROBLEMS_SHOWN + 2);
  });
});

describe("isConfigError", () => {
  it("recognises a ConfigError, optionally of one code, and nothing else", () => {
    const error = new ConfigError([invalid]);
    expect(isConfigError(error)).toBe(true);
    expect(isConfigError(error, "INVALID_VALUE")).toBe(true);
    expect(isConfigError(error, "UNKNOWN_KEY")).toBe(false);
    expect(isConfigError(new Error("plain"))).toBe(false);
    expect(isConfigError({ name: "ConfigError", issues: [] })).toBe(false);
  });

  it("recognises a ConfigError from another copy of the package by name and issues", () => {
    const copy = Object.assign(new Error("x"), { name: "ConfigError", code: "UNKNOWN_KEY", issues: [] });
    expect(isConfigError(copy, "UNKNOWN_KEY")).toBe(true);
  });
});

describe("redactValue and maskUriCredentials", () => {
  it("masks set secrets, keeps null, and masks URI passwords in lists", () => {
    expect(redactValue("abc", true)).toBe("***");
    expect(redactValue(null, true)).toBeNull();
    expect(redactValue(["https://a:b@h", "plain"])).toEqual(["https://a:***@h", "plain"]);
    expect(maskUriCredentials("see https://:p@ss:w0rd@host/x and ftp://u:v@h")).toBe(
      "see https://:***@host/x and ftp://u:***@h",
    );
  });
});

describe("codedErrorGuard", () => {
  class SampleError extends Error {
    override readonly name = "SampleError";
    readonly code: "A" | "B";
    constructor(code: "A" | "B") {
      super(code);
      this.code = code;
    }
  }
  const isSampleError = codedErrorGuard<SampleError>("SampleError");

  it("checks the name and the code, so it works across package copies", () => {
    expect(isSampleError(new SampleError("A"))).toBe(true);
    expect(isSampleError(new SampleError("A"), "A")).toBe(true);
    expect(isSampleError(new SampleError("A"), "B")).toBe(false);
    expect(isSampleError(Object.assign(new Error("x"), { name: "SampleError", code: "B" }), "B")).toBe(true);
    expect(isSampleError(Object.assign(new Error("x"), { name: "SampleError" }))).toBe(false);
    expect(isSampleError(new Error("x"))).toBe(false);
    expect(isSampleError({ name: "SampleError", code: "A" })).toBe(false);
  });
});

describe("UsageError", () => {
  it("is coded USAGE and recognised by isUsageError", () => {
    const error = new UsageError("unknown option --nope.");
    expect([error.name, error.code, error.message]).toEqual([
      "UsageError",
      "USAGE",
      "unknown option --nope.",
    ]);
    expect(isUsageError(error)).toBe(true);
    expect(isUsageError(new ConfigError([invalid]))).toBe(false);
  });
});
