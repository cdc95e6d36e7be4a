export { type Capability, only } from "./capability.ts";
export { type CoerceResult, coerceFieldValue } from "./coerce.ts";
export {
  ConfigError,
  type ConfigIssue,
  type ConfigIssueCode,
  type ConfigWarning,
  type ConfigWarningCode,
  formatIssue,
  isConfigError,
  renderValue,
  SECRET_MASK,
} from "./errors.ts";
export {
  type DeprecatedFlag,
  defineField,
  type FieldAlias,
  type FieldMeta,
  fieldRegistry,
  HELP_GROUPS,
  type HelpGroup,
} from "./field.ts";
export {
  applyValueAlias,
  type FieldInfo,
  getField,
  kebabCase,
  listFields,
  screamingSnake,
  sectionDefaults,
  unwrapSchema,
  type ValueKind,
} from "./introspect.ts";
export {
  isSecretName,
  maskUriCredentials,
  redactValue,
  SECRET_NAME_WORDS,
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
export { closestName, didYouMean } from "./suggest.ts";
export {
  describeSupport,
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
  sameValue,
  tableCapabilities,
} from "./support.ts";
export { fromZodIssues, houseMessage } from "./zod-issues.ts";
