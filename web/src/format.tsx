// Money and dates as the store sees them: the currency and time zone come
// from GET /v1/config, so a purchase at 23:30 UTC shows on the store's own
// calendar day.

import { useQuery } from "@tanstack/react-query";
import { createContext, useContext, useMemo, type ReactNode } from "react";

import { api, unwrap } from "./api/client";

export interface StoreSettings {
  timezone: string;
  currency: string;
  locale: string;
  asOf: string | null;
}

const FALLBACK: StoreSettings = { timezone: "UTC", currency: "USD", locale: "en-US", asOf: null };

export interface Formatter {
  store: StoreSettings;
  money(value: number | null | undefined): string;
  number(value: number | null | undefined, digits?: number): string;
  percent(value: number | null | undefined, digits?: number): string;
  date(iso: string | null | undefined): string;
  dateTime(iso: string | null | undefined): string;
  /** The store's calendar day of an instant, as YYYY-MM-DD (for grouping). */
  day(iso: string): string;
  /** Whole store days from business "now" to the instant (negative: past). */
  daysFromNow(iso: string): number | null;
}

const DASH = "—";

export function makeFormatter(store: StoreSettings): Formatter {
  const money = new Intl.NumberFormat(store.locale, {
    style: "currency",
    currency: store.currency,
  });
  const dateFormat = new Intl.DateTimeFormat(store.locale, {
    timeZone: store.timezone,
    year: "numeric",
    month: "short",
    day: "numeric",
  });
  const dateTimeFormat = new Intl.DateTimeFormat(store.locale, {
    timeZone: store.timezone,
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
  const dayFormat = new Intl.DateTimeFormat("en-CA", {
    timeZone: store.timezone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });
  // A bare date (YYYY-MM-DD) already is a store calendar day: it is shown as
  // is, never shifted by a time zone.
  const calendarDayFormat = new Intl.DateTimeFormat(store.locale, {
    timeZone: "UTC",
    year: "numeric",
    month: "short",
    day: "numeric",
  });
  const isCalendarDay = (text: string) => /^\d{4}-\d{2}-\d{2}$/.test(text);
  const valid = (iso: string | null | undefined): Date | null => {
    if (!iso) return null;
    const instant = new Date(isCalendarDay(iso) ? `${iso}T00:00:00Z` : iso);
    return Number.isNaN(instant.getTime()) ? null : instant;
  };
  const day = (iso: string) => {
    if (isCalendarDay(iso)) return iso;
    const instant = valid(iso);
    return instant ? dayFormat.format(instant) : "";
  };

  return {
    store,
    money: (value) => (value == null || !Number.isFinite(value) ? DASH : money.format(value)),
    number: (value, digits = 0) =>
      value == null || !Number.isFinite(value)
        ? DASH
        : value.toLocaleString(store.locale, {
            minimumFractionDigits: digits,
            maximumFractionDigits: digits,
          }),
    percent: (value, digits = 0) =>
      value == null || !Number.isFinite(value)
        ? DASH
        : (value * 100).toLocaleString(store.locale, {
            minimumFractionDigits: digits,
            maximumFractionDigits: digits,
          }) + "%",
    date: (iso) => {
      const instant = valid(iso);
      if (!instant || !iso) return DASH;
      return isCalendarDay(iso) ? calendarDayFormat.format(instant) : dateFormat.format(instant);
    },
    dateTime: (iso) => {
      const instant = valid(iso);
      return instant ? dateTimeFormat.format(instant) : DASH;
    },
    day,
    daysFromNow: (iso) => {
      const target = day(iso);
      const now = store.asOf ? day(store.asOf) : dayFormat.format(new Date());
      if (!target || !now) return null;
      return Math.round((Date.parse(target) - Date.parse(now)) / 86_400_000);
    },
  };
}

const FormatContext = createContext<Formatter>(makeFormatter(FALLBACK));

export function FormatProvider({ children }: { children: ReactNode }) {
  const config = useQuery({
    queryKey: ["store-config"],
    queryFn: () => unwrap(api.GET("/v1/config"), "/v1/config"),
    staleTime: Infinity,
  });
  const formatter = useMemo(
    () =>
      makeFormatter(
        config.data
          ? {
              timezone: config.data.timezone,
              currency: config.data.currency,
              locale: config.data.locale,
              asOf: config.data.asOf,
            }
          : FALLBACK,
      ),
    [config.data],
  );
  return <FormatContext.Provider value={formatter}>{children}</FormatContext.Provider>;
}

export function useFormat(): Formatter {
  return useContext(FormatContext);
}
