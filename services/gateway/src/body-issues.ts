import type { z } from "@mesh/config";

type Issue = z.core.$ZodIssue;

/**
 * Says what is wrong with a request body, one phrase per problem, each naming the field the way
 * the caller wrote it ("messages.0.content.1.type: ..."). A value that fits none of a field's
 * shapes gets the closest shape's complaint, not a bare "Invalid input": the shape the value
 * got furthest into (an array of blocks, say, with a block of an unknown type).
 */
export function describeIssues(issues: readonly Issue[]): string {
  return issues.flatMap((issue) => explain(issue, [])).join("; ");
}

function explain(issue: Issue, prefix: readonly PropertyKey[]): string[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const wrongType = (i: Issue) => i.code === "invalid_type" && i.path.length === 0;
    const closest =
      issue.errors.find((branch) => branch.every((i) => i.path.length > 0)) ??
      issue.errors.find((branch) => !branch.some(wrongType));
    if (closest) return closest.flatMap((i) => explain(i, path));

    const expected = issue.errors.flatMap((branch) =>
      branch.flatMap((i) => (wrongType(i) && i.code === "invalid_type" ? [i.expected] : [])),
    );
    if (expected.length === issue.errors.length) {
      return [`${where(path)}: expected ${[...new Set(expected)].join(" or ")}`];
    }
  }
  return [`${where(path)}: ${issue.message}`];
}

function where(path: readonly PropertyKey[]): string {
  return path.map(String).join(".") || "body";
}
