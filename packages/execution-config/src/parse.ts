import {
  type ConfigWarning,
  createSection,
  type ParseOptions,
  type SafeParseResult,
  type Section,
} from "@trainkit/config-meta";
import {
  type ExecutionConfig,
  type ExecutionConfigInput,
  ExecutionConfigSchema,
} from "./execution-config.ts";
import { EXECUTION_RULES } from "./rules.ts";

/** The execution section: schema, rules and parsers. */
export const executionSection: Section<typeof ExecutionConfigSchema> = createSection(
  "execution",
  ExecutionConfigSchema,
  EXECUTION_RULES,
);

/** Parses an execution config, filling defaults; throws `ConfigError` listing every problem. */
export function parseExecutionConfig(
  input: unknown,
  options?: ParseOptions & { readonly onWarning?: (warning: ConfigWarning) => void },
): ExecutionConfig {
  return executionSection.parse(input, options);
}

/** Like `parseExecutionConfig`, but returns the error and the warnings instead of throwing. */
export function safeParseExecutionConfig(
  input: unknown,
  options?: ParseOptions,
): SafeParseResult<ExecutionConfig> {
  return executionSection.safeParse(input, options);
}

/** Identity helper that type-checks an authored execution config. */
export function defineExecutionConfig<const T extends ExecutionConfigInput>(config: T): T {
  return config;
}
