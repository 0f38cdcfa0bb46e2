import { describe, expect, it } from "vitest";

import { makeFormatter } from "./format";

const store = (timezone: string) =>
  makeFormatter({ timezone, currency: "USD", locale: "en-US", asOf: "2018-01-01T00:00:00+00:00" });

describe("formatter", () => {
  it("formats money in the store currency", () => {
    const format = store("UTC");
    expect(format.money(1234.5)).toBe("$1,234.50");
    expect(format.money(0)).toBe("$0.00");
    expect(format.money(null)).toBe("—");
    expect(format.money(Number.NaN)).toBe("—");
  });

  it("puts an instant on the store's calendar day", () => {
    const lateEvening = "2017-12-31T23:30:00Z";
    expect(store("UTC").day(lateEvening)).toBe("2017-12-31");
    expect(store("Asia/Tokyo").day(lateEvening)).toBe("2018-01-01");
    expect(store("America/Chicago").date(lateEvening)).toBe("Dec 31, 2017");
    expect(store("Asia/Tokyo").date(lateEvening)).toBe("Jan 1, 2018");
  });

  it("shows a bare calendar date as that day in every time zone", () => {
    expect(store("America/Chicago").date("2018-01-05")).toBe("Jan 5, 2018");
    expect(store("Asia/Tokyo").date("2018-01-05")).toBe("Jan 5, 2018");
    expect(store("America/Chicago").day("2018-01-05")).toBe("2018-01-05");
    // Chicago's "now" is Dec 31, 18:00: Jan 5 is five days away there.
    expect(store("America/Chicago").daysFromNow("2018-01-05")).toBe(5);
  });

  it("counts whole store days from business now", () => {
    const format = store("UTC");
    expect(format.daysFromNow("2018-01-04T10:00:00Z")).toBe(3);
    expect(format.daysFromNow("2017-12-30T10:00:00Z")).toBe(-2);
    // In Chicago both "now" (18:00) and 05:00 UTC on Jan 1 (23:00) fall on Dec 31.
    expect(store("America/Chicago").daysFromNow("2018-01-01T05:00:00Z")).toBe(0);
  });

  it("formats shares as percentages and shows a dash for nothing", () => {
    const format = store("UTC");
    expect(format.percent(0.1234, 1)).toBe("12.3%");
    expect(format.percent(undefined)).toBe("—");
    expect(format.date("not a date")).toBe("—");
  });
});
