/**
 * Evaluates Earth Engine's wire expressions (`{result, values}` graphs of value nodes) into
 * emulator values. Shared sub-expressions arrive hoisted into `values` and are evaluated once
 * per scope; function bodies (Collection.map's baseAlgorithm) are evaluated per call.
 */
import { algorithmSignature } from "./catalog";
import { invalidArgument, notImplemented, unknownAlgorithm } from "./errors";
import { FUNCTIONS } from "./functions";
import { Closure, type EeValue } from "./functions-values";

export interface ValueNode {
  constantValue?: unknown;
  integerValue?: string;
  bytesValue?: string;
  arrayValue?: { values?: ValueNode[] };
  dictionaryValue?: { values?: Record<string, ValueNode> };
  functionInvocationValue?: {
    functionName?: string;
    functionReference?: string;
    arguments?: Record<string, ValueNode>;
  };
  functionDefinitionValue?: { argumentNames?: string[]; body?: string };
  argumentReference?: string;
  valueReference?: string;
}

export interface Expression {
  result: string;
  values: Record<string, ValueNode>;
}

/** Caps that keep a hostile or runaway expression from taking the emulator down. */
export interface EvaluationLimits {
  maxNodes: number;
  maxDepth: number;
  maxSteps: number;
}

export const DEFAULT_LIMITS: EvaluationLimits = {
  maxNodes: 20_000,
  maxDepth: 200,
  maxSteps: 2_000_000,
};

interface Scope {
  args: Map<string, EeValue>;
  memo: Map<string, EeValue>;
  parent?: Scope;
}

/** Checks the outer shape of an `expression` field; throws a 400 naming what is wrong. */
export function parseExpression(
  raw: unknown,
  limits: EvaluationLimits = DEFAULT_LIMITS,
): Expression {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw invalidArgument("Invalid expression: expected an object with 'result' and 'values'.");
  }
  const { result, values } = raw as { result?: unknown; values?: unknown };
  if (typeof result !== "string")
    throw invalidArgument("Invalid expression: 'result' must be a string.");
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw invalidArgument("Invalid expression: 'values' must be an object of value nodes.");
  }
  const count = Object.keys(values).length;
  if (count > limits.maxNodes) {
    throw invalidArgument(
      `Expression too large: ${count} values (the emulator accepts ${limits.maxNodes}).`,
    );
  }
  if (!Object.hasOwn(values, result)) {
    throw invalidArgument(`Invalid expression: result '${result}' is not among its values.`);
  }
  return { result, values: values as Record<string, ValueNode> };
}

export class Evaluator {
  private steps = 0;
  private readonly root: Scope = { args: new Map(), memo: new Map() };

  constructor(
    private readonly expression: Expression,
    private readonly limits: EvaluationLimits = DEFAULT_LIMITS,
  ) {}

  run(): EeValue {
    return this.reference(this.expression.result, this.root, 0);
  }

  private reference(id: string, scope: Scope, depth: number): EeValue {
    if (scope.memo.has(id)) return scope.memo.get(id) as EeValue;
    if (!Object.hasOwn(this.expression.values, id)) {
      throw invalidArgument(`Invalid expression: valueReference '${id}' is not among its values.`);
    }
    const value = this.node(this.expression.values[id], scope, depth + 1);
    scope.memo.set(id, value);
    return value;
  }

  private node(node: ValueNode, scope: Scope, depth: number): EeValue {
    if (depth > this.limits.maxDepth) {
      throw invalidArgument(
        `Expression too deep: more than ${this.limits.maxDepth} nested values.`,
      );
    }
    if (++this.steps > this.limits.maxSteps) {
      throw invalidArgument(
        `Expression too costly: more than ${this.limits.maxSteps} evaluation steps.`,
      );
    }
    if (typeof node !== "object" || node === null) {
      throw invalidArgument("Invalid expression: every value node must be an object.");
    }
    if ("constantValue" in node) return (node.constantValue ?? null) as EeValue;
    if (node.integerValue !== undefined) {
      const n = Number(node.integerValue);
      if (!Number.isFinite(n))
        throw invalidArgument(`Invalid integerValue '${node.integerValue}'.`);
      return n;
    }
    if (node.valueReference !== undefined)
      return this.reference(String(node.valueReference), scope, depth);
    if (node.arrayValue !== undefined) {
      const items = node.arrayValue?.values ?? [];
      if (!Array.isArray(items))
        throw invalidArgument("Invalid arrayValue: 'values' must be a list.");
      return items.map((item) => this.node(item, scope, depth + 1));
    }
    if (node.dictionaryValue !== undefined) {
      const entries = node.dictionaryValue?.values ?? {};
      const out: Record<string, EeValue> = {};
      for (const [key, item] of Object.entries(entries))
        out[key] = this.node(item, scope, depth + 1);
      return out;
    }
    if (node.argumentReference !== undefined) {
      for (let s: Scope | undefined = scope; s; s = s.parent) {
        if (s.args.has(node.argumentReference))
          return s.args.get(node.argumentReference) as EeValue;
      }
      throw invalidArgument(
        `Invalid expression: argument '${node.argumentReference}' is not defined here.`,
      );
    }
    if (node.functionDefinitionValue !== undefined) {
      const { argumentNames = [], body } = node.functionDefinitionValue;
      if (typeof body !== "string" || !Array.isArray(argumentNames)) {
        throw invalidArgument("Invalid functionDefinitionValue: needs 'argumentNames' and 'body'.");
      }
      return new Closure(argumentNames.map(String), (args) => {
        // Each call gets its own memo: the body's values depend on the arguments.
        const inner: Scope = {
          args: new Map(Object.entries(args)),
          memo: new Map(),
          parent: scope,
        };
        return this.reference(body, inner, depth + 1);
      });
    }
    if (node.functionInvocationValue !== undefined) {
      return this.invoke(node.functionInvocationValue, scope, depth);
    }
    if (node.bytesValue !== undefined) {
      throw invalidArgument("bytesValue is not supported by the ee-snippets emulator.");
    }
    throw invalidArgument(
      `Invalid expression: unknown value node with keys ${JSON.stringify(Object.keys(node))}.`,
    );
  }

  private invoke(
    call: NonNullable<ValueNode["functionInvocationValue"]>,
    scope: Scope,
    depth: number,
  ): EeValue {
    const rawArgs = call.arguments ?? {};
    if (typeof rawArgs !== "object" || Array.isArray(rawArgs)) {
      throw invalidArgument("Invalid functionInvocationValue: 'arguments' must be an object.");
    }
    const args: Record<string, EeValue> = {};
    for (const [name, value] of Object.entries(rawArgs))
      args[name] = this.node(value, scope, depth + 1);
    if (call.functionReference !== undefined) {
      const fn = this.reference(String(call.functionReference), scope, depth);
      if (!(fn instanceof Closure)) {
        throw invalidArgument(
          `functionReference '${call.functionReference}' does not name a function.`,
        );
      }
      return fn.call(args);
    }
    const name = call.functionName;
    if (typeof name !== "string") {
      throw invalidArgument(
        "Invalid functionInvocationValue: needs 'functionName' or 'functionReference'.",
      );
    }
    return callFunction(name, args);
  }
}

/** Calls a catalog function by wire name with named arguments, applying the catalog's defaults. */
export function callFunction(name: string, args: Record<string, EeValue>): EeValue {
  const signature = algorithmSignature(name);
  if (!signature) throw unknownAlgorithm(name);
  const implementation = Object.hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
  if (!implementation) throw notImplemented(name);
  const known = new Set(signature.arguments.map((a) => a.argumentName));
  const unknown = Object.keys(args).filter((key) => !known.has(key));
  if (unknown.length > 0) {
    throw invalidArgument(`${name}: Unrecognized arguments: ${unknown.join(", ")}.`);
  }
  const complete: Record<string, EeValue> = {};
  for (const argument of signature.arguments) {
    const given = args[argument.argumentName];
    // An explicit null is a value (Feature's geometry, unmask's value); only absence takes the default.
    if (given !== undefined) complete[argument.argumentName] = given;
    else if (!argument.optional) {
      throw invalidArgument(`${name}: Parameter '${argument.argumentName}' is required.`);
    } else complete[argument.argumentName] = (argument.defaultValue ?? null) as EeValue;
  }
  return implementation(complete);
}

/** Evaluates a request's `expression` field. */
export function evaluateExpression(
  raw: unknown,
  limits: EvaluationLimits = DEFAULT_LIMITS,
): EeValue {
  return new Evaluator(parseExpression(raw, limits), limits).run();
}
