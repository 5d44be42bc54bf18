// Toasts: short messages at the bottom of the screen, read out by screen
// readers (an aria-live region), with optional actions.

import { $, h } from "./dom";

export interface ToastAction {
  label: string;
  run: () => void | Promise<void>;
}

export interface Toast {
  el: HTMLElement;
  close: () => void;
}

export function toast(message: string | Node, opts: { actions?: ToastAction[]; timeoutMs?: number; kind?: string; onTimeout?: () => void } = {}): Toast {
  const region = $("#toasts");
  let timer = 0;
  const close = () => {
    window.clearTimeout(timer);
    el.remove();
  };
  const el = h(
    "div",
    { class: "toast " + (opts.kind ?? ""), role: opts.kind === "error" ? "alert" : "status" },
    h("span", { class: "toast-text" }, message),
    ...(opts.actions ?? []).map((a) =>
      h("button", {
        type: "button",
        class: "link",
        onclick: async () => {
          close();
          await a.run();
        },
      }, a.label),
    ),
    h("button", { type: "button", class: "icon", "aria-label": "Dismiss", onclick: close }, "×"),
  );
  region.append(el);
  if (opts.timeoutMs !== 0) {
    timer = window.setTimeout(() => {
      close();
      opts.onTimeout?.();
    }, opts.timeoutMs ?? 5000);
  }
  return { el, close };
}

export function errorToast(err: unknown): void {
  toast(String((err as Error).message || err), { kind: "error", timeoutMs: 8000 });
}
