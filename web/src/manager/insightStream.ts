// The live insight feed over the WebSocket at /ws.
//
// A browser cannot send headers when it opens a WebSocket, so the access
// token travels as the `token` query parameter. Messages may be one
// RealtimeInsight, a list of them, or an envelope ({type, data | insight |
// insights}); all are unpacked the same way. The socket reconnects with a
// growing pause; a close for an expired token refreshes the session first.

import { useEffect, useRef, useState } from "react";

import type { RealtimeInsight } from "../api/pending";
import { accessToken, refreshSession } from "../api/session";

export type StreamStatus = "connecting" | "live" | "reconnecting" | "unavailable";

export const FEED_LIMIT = 100;
const POLICY_VIOLATION = 1008;
const UNAUTHORIZED = 4401;

function isInsight(value: unknown): value is RealtimeInsight {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as RealtimeInsight).insight === "string" &&
    typeof (value as RealtimeInsight).priority === "string"
  );
}

export function insightsIn(message: unknown): RealtimeInsight[] {
  if (Array.isArray(message)) return message.flatMap(insightsIn);
  if (isInsight(message)) return [message];
  if (typeof message === "object" && message !== null) {
    const envelope = message as { data?: unknown; insight?: unknown; insights?: unknown };
    return [envelope.data, envelope.insight, envelope.insights]
      .filter((part) => part !== undefined && typeof part !== "string")
      .flatMap(insightsIn);
  }
  return [];
}

export function socketUrl(location: Location, token: string | null): string {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  return `${scheme}//${location.host}/ws${query}`;
}

export type OpenSocket = (url: string) => WebSocket;

const openBrowserSocket: OpenSocket = (url) => new WebSocket(url);

export function useInsightStream(open: OpenSocket = openBrowserSocket) {
  const [status, setStatus] = useState<StreamStatus>("connecting");
  const [insights, setInsights] = useState<RealtimeInsight[]>([]);
  const [dropped, setDropped] = useState(0);
  const openRef = useRef(open);

  useEffect(() => {
    let socket: WebSocket | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let stopped = false;

    const connect = () => {
      if (stopped) return;
      let opened = false;
      try {
        socket = openRef.current(socketUrl(window.location, accessToken()));
      } catch {
        setStatus("unavailable");
        return;
      }
      socket.onopen = () => {
        opened = true;
        failures = 0;
        setStatus("live");
      };
      socket.onmessage = (event: MessageEvent) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(String(event.data));
        } catch {
          return;
        }
        // The server drops what a slow client cannot take, and says how many.
        const note = parsed as { type?: unknown; count?: unknown };
        if (note?.type === "dropped" && typeof note.count === "number") {
          const count = note.count;
          setDropped((previous) => previous + count);
          return;
        }
        const arrived = insightsIn(parsed);
        if (arrived.length) {
          setInsights((previous) => [...arrived.reverse(), ...previous].slice(0, FEED_LIMIT));
        }
      };
      socket.onclose = (event: CloseEvent) => {
        if (stopped) return;
        failures = opened ? 1 : failures + 1;
        // Never opened three times in a row: the server has no socket yet.
        setStatus(failures >= 3 && !opened ? "unavailable" : "reconnecting");
        const pause = Math.min(30_000, 1000 * 2 ** Math.min(failures, 5));
        const expired = event.code === UNAUTHORIZED || event.code === POLICY_VIOLATION;
        timer = setTimeout(() => {
          if (expired) void refreshSession().then(connect);
          else connect();
        }, pause);
      };
    };

    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      socket?.close();
    };
  }, []);

  return { status, insights, dropped };
}
