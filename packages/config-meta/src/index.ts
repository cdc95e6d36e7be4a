// Everything exported here is the public API (the README documents it) except what is marked
// `@internal`: shared with the other trainkit packages only, not part of the public API, free to
// change without a changeset (docs/decisions.md, "Public and internal exports").
export {
  type Capability,
  only,
} from "./capability.ts";
export {
  codedErrorGuard,
  isUsageError,
  /** @internal */ listProblems,
  /** @internal */ PROBLEMS_SHOWN,
  UsageError,
} from "./coded-error.ts";
export {
  /** @internal */ type CoerceResult,
  /** @internal */ coerceFieldValue,
} from "./coerce.ts";
export {
  ConfigError,
  type ConfigIssue,
  type ConfigIssueCode,
  type ConfigWarning,
  type ConfigWarningCode,
  formatIssue,
  isConfigError,
  renderOrigin,
  renderValue,
  SECRET_MASK,
} from "./errors.ts";
export {
  type DeprecatedFlag,
  defineField,
  type FieldAlias,
  type FieldMeta,
  /** @internal */ fieldRegistry,
  HELP_GROUPS,
  type HelpGroup,
} from "./field.ts";
export {
  /** @internal */ applyValueAlias,
  type FieldInfo,
  getField,
  /** @internal */ kebabCase,
  listFields,
  /** @internal */ screamingSnake,
  sectionDefaults,
  /** @internal */ unwrapSchema,
  type ValueKind,
} from "./introspect.ts";
export { describeOrigin, type Origin } from "./origin.ts";
export {
  /** @internal */ isSecretName,
  /** @internal */ maskUriCredentials,
  /** @internal */ redactValue,
  /** @internal */ SECRET_NAME_WORDS,
} from "./redact.ts";
export {
  createSection,
  type DescribeOrigin,
  defineRule,
  type NormalizeResult,
  normalizeSection,
  type ParseOptions,
  type Rule,
  type RuleFinding,
  type SafeParseResult,
  type Section,
  sectionJsonSchema,
} from "./section.ts";
export {
  closestName,
  didYouMean,
} from "./suggest.ts";
export {
  /** @internal */ describeSupport,
  type Honoured,
  honoured,
  type Only,
  onlyValues,
  type Refused,
  type RuleSupport,
  refused,
  rule,
  type Support,
  type SupportTable,
  /** @internal */ sameValue,
  tableCapabilities,
} from "./support.ts";
export {
  /** @internal */ fromZodIssues,
  /** @internal */ houseMessage,
} from "./zod-issues.ts";
