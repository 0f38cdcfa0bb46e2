import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";

// jsdom has no canvas: ECharts only needs a 2D context that accepts calls.
HTMLCanvasElement.prototype.getContext = vi.fn(function (this: HTMLCanvasElement) {
  return new Proxy(
    { canvas: this, measureText: (text: string) => ({ width: text.length * 6 }) },
    {
      get(target, name) {
        if (name in target) return target[name as keyof typeof target];
        return () => undefined;
      },
      set: () => true,
    },
  );
}) as unknown as typeof HTMLCanvasElement.prototype.getContext;

afterEach(() => {
  cleanup();
  localStorage.clear();
  vi.restoreAllMocks();
});
