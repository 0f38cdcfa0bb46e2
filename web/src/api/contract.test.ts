// Every field of the guide's TypeScript interfaces must be in the types we
// generate from the API schema. openapi-typescript turns each property of a
// schema object into one field of the generated interface, so the check runs
// on openapi.json, the file those types were generated from.
//
// Each interface is found where the guide's endpoint carries it (a response
// body, an item of a list, a nested member), not by schema name, so our own
// naming of components does not matter. While that endpoint is not served
// yet, its case is expected to fail and says why; as soon as the endpoint
// appears in the schema the case becomes an ordinary test.

import { describe, expect, it } from "vitest";

import document from "../../openapi.json";

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  content?: Record<string, { schema?: Schema }>;
};
type Operation = {
  requestBody?: { content?: Record<string, { schema?: Schema }> };
  responses?: Record<string, { content?: Record<string, { schema?: Schema }> }>;
};
type OpenApi = {
  paths: Record<string, Record<string, Operation>>;
  components?: { schemas?: Record<string, Schema> };
};

const openapi = document as unknown as OpenApi;

function resolve(schema: Schema | undefined): Schema | undefined {
  if (!schema) return undefined;
  if (schema.$ref) {
    const name = schema.$ref.split("/").at(-1) ?? "";
    return resolve(openapi.components?.schemas?.[name]);
  }
  const variants = [...(schema.allOf ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]
    .map(resolve)
    .filter((variant): variant is Schema => !!variant && variant.type !== "null");
  if (!variants.length) return schema;
  // Merge the object variants: a field present in any of them is present.
  const properties: Record<string, Schema> = { ...(schema.properties ?? {}) };
  let items: Schema | undefined = schema.items;
  for (const variant of variants) {
    Object.assign(properties, variant.properties ?? {});
    items = items ?? variant.items;
  }
  return { ...schema, properties, items };
}

/** Follows "member" and "[]" (list item) steps from a body schema. */
function follow(schema: Schema | undefined, steps: string[]): Schema | undefined {
  let current = resolve(schema);
  for (const step of steps) {
    current = resolve(step === "[]" ? current?.items : current?.properties?.[step]);
  }
  return current;
}

function missingFields(root: Schema | undefined, fields: string[]): string[] {
  return fields.filter((field) => !follow(root, field.split(".")));
}

interface GuideInterface {
  name: string;
  method: "get" | "post";
  path: string;
  /** "response" for the 200/201 body, "request" for the body sent. */
  side: "response" | "request";
  steps: string[];
  fields: string[];
  waitingFor: string;
}

const GUIDE: GuideInterface[] = [
  {
    name: "CustomerProfile",
    method: "get",
    path: "/v1/customers/{id}/customer-profile-analysis",
    side: "response",
    steps: [],
    fields: [
      "customerId",
      "spendingPatterns.averageOrderValue",
      "spendingPatterns.preferredCategories",
      "spendingPatterns.shoppingFrequency",
      "spendingPatterns.pricePreference",
      "behavioralInsights.plannedShopper",
      "behavioralInsights.brandLoyal",
      "behavioralInsights.seasonalShopper",
      "behavioralInsights.bulkBuyer",
      "demographics.estimatedAgeGroup",
      "demographics.estimatedIncomeLevel",
      "demographics.familySize",
      "demographics.lifestyle",
    ],
    waitingFor: "the profile analysis (guide section 2)",
  },
  {
    name: "Purchase",
    method: "get",
    path: "/v1/customers/{id}/purchases",
    side: "response",
    steps: ["[]"],
    fields: [
      "id",
      "customerId",
      "productId",
      "productName",
      "category",
      "quantity",
      "price",
      "purchaseDate",
      "brand",
      "size",
    ],
    waitingFor: "purchase history (guide section 1)",
  },
  {
    name: "ConsumptionPattern",
    method: "get",
    path: "/v1/customers/{id}/consumption-predictions",
    side: "response",
    steps: ["[]"],
    fields: [
      "productId",
      "productName",
      "category",
      "averageDaysBetweenPurchases",
      "predictedNextPurchaseDate",
      "confidence",
      "seasonalVariation",
    ],
    waitingFor: "consumption predictions (guide section 2)",
  },
  {
    name: "CustomerSegment",
    method: "get",
    path: "/v1/customers/segments/overview",
    side: "response",
    steps: ["segments", "[]"],
    fields: [
      "segmentId",
      "segmentName",
      "description",
      "criteria",
      "customerCount",
      "averageOrderValue",
      "averagePurchaseFrequency",
      "characteristics",
      "recommendations",
      "createdAt",
      "updatedAt",
    ],
    waitingFor: "the segment overview (guide section 3)",
  },
  {
    name: "CustomerSegmentAssignment",
    method: "get",
    path: "/v1/customers/{id}/segment",
    side: "response",
    steps: ["assignments", "[]"],
    fields: [
      "customerId",
      "segmentId",
      "segmentName",
      "assignedAt",
      "confidence",
      "previousSegmentId",
      "migrationReason",
      "features",
    ],
    waitingFor: "a customer's segment (guide section 3)",
  },
  {
    name: "RealtimeInsight",
    method: "post",
    path: "/v1/streaming/events/purchase",
    side: "response",
    steps: ["insights", "[]"],
    fields: [
      "customerId",
      "insightType",
      "insight",
      "actionRequired",
      "priority",
      "timestamp",
      "data",
    ],
    waitingFor: "streaming events (guide section 5)",
  },
  {
    name: "ABTestResult",
    method: "get",
    path: "/v1/ab-tests/{testId}/results",
    side: "response",
    steps: ["data"],
    fields: [
      "testId",
      "testName",
      "status",
      "modelA.name",
      "modelA.metrics",
      "modelB.name",
      "modelB.metrics",
      "winner",
      "significance",
      "recommendations",
      "startDate",
      "endDate",
    ],
    waitingFor: "A/B test results (guide section 4)",
  },
  {
    name: "ModelPerformanceMetrics",
    method: "get",
    path: "/v1/ab-tests/{testId}/results",
    side: "response",
    steps: ["data", "modelA", "metrics"],
    fields: [
      "totalRequests",
      "successRate",
      "averageProcessingTime",
      "averageConfidence",
      "averageTokenCost",
      "customerSatisfactionScore",
    ],
    waitingFor: "A/B test results (guide section 4)",
  },
  {
    name: "PurchaseEvent",
    method: "post",
    path: "/v1/streaming/events/purchase",
    side: "request",
    steps: [],
    fields: [
      "customerId",
      "productId",
      "productCategory",
      "productName",
      "quantity",
      "price",
      "totalAmount",
      "timestamp",
      "location",
      "paymentMethod",
      "deviceType",
      "metadata",
    ],
    waitingFor: "streaming events (guide section 5)",
  },
];

function bodyOf(entry: GuideInterface): Schema | undefined {
  const operation = openapi.paths[entry.path]?.[entry.method];
  if (!operation) return undefined;
  if (entry.side === "request") return operation.requestBody?.content?.["application/json"]?.schema;
  const ok = operation.responses?.["200"] ?? operation.responses?.["201"];
  return ok?.content?.["application/json"]?.schema;
}

describe("the guide's interfaces are in the generated types", () => {
  for (const entry of GUIDE) {
    const served = openapi.paths[entry.path]?.[entry.method] !== undefined;
    const where = `${entry.method.toUpperCase()} ${entry.path}`;
    const title = served
      ? `${entry.name} (${where})`
      : `${entry.name}: expected to fail until ${where} is served — waiting for ${entry.waitingFor}`;
    (served ? it : it.fails)(title, () => {
      const body = bodyOf(entry);
      expect(body, `${where} has no JSON body`).toBeDefined();
      const root = follow(body, entry.steps);
      expect(
        root,
        `${entry.name} not found at ${entry.steps.join(".") || "the body"}`,
      ).toBeDefined();
      expect(missingFields(root, entry.fields)).toEqual([]);
    });
  }

  it("finds nested fields through references, lists and nullable members", () => {
    // The check itself, on a served endpoint: it must notice a missing field.
    const purchases = follow(bodyOf(GUIDE[1]!), ["[]"]);
    expect(missingFields(purchases, ["productName", "brand"])).toEqual([]);
    expect(missingFields(purchases, ["productName", "noSuchField"])).toEqual(["noSuchField"]);
  });
});
