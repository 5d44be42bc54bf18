// The live stream: Server-Sent Events read with fetch, so that the token
// travels in the Authorization header (never in a URL that lands in logs).
// It reconnects by itself, resuming after the last event seen
// (Last-Event-ID), and drops the repeats a resume may bring. The server
// ends a stream when its token expires ("reauth"): it reconnects at once
// with the current token, or signs out if that has expired too.

import { onUnauthorized, streamURL, token, tokenExpired } from "./api";

export type StreamState = "connecting" | "live" | "reconnecting";

export interface StreamEvent {
  id: string;
  type: string;
  data: string;
}

export class Stream {
  private lastId: string | null = null;
  private seen: string[] = [];
  private abort: AbortController | null = null;
  private running = false;
  private retryMs = 1000;

  constructor(
    private onEvent: (ev: StreamEvent) => void,
    private onState: (state: StreamState, detail?: string) => void,
    private stallMs = 75_000,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.running = false;
    this.abort?.abort();
  }

  private async loop(): Promise<void> {
    let attempt = 0;
    while (this.running) {
      this.onState(attempt === 0 ? "connecting" : "reconnecting");
      let wait = this.retryMs;
      try {
        wait = await this.connect();
        attempt = 0;
      } catch (err) {
        if (!this.running) return;
        attempt++;
        wait = Math.min(this.retryMs * 2 ** Math.min(attempt - 1, 4), 15_000);
        this.onState("reconnecting", String((err as Error).message || err));
      }
      if (!this.running) return;
      this.onState("reconnecting");
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  // connect reads one connection until it ends and returns how long to
  // wait before the next.
  private async connect(): Promise<number> {
    const abort = new AbortController();
    this.abort = abort;
    const headers: Record<string, string> = { Accept: "text/event-stream", Authorization: "Bearer " + (token() ?? "") };
    if (this.lastId) headers["Last-Event-ID"] = this.lastId;
    const res = await fetch(streamURL(), { headers, signal: abort.signal, cache: "no-store" });
    if (res.status === 401) {
      onUnauthorized();
      throw new Error("signed out");
    }
    if (res.status === 429) {
      const after = Number(res.headers.get("Retry-After") || "5");
      throw new Error("too many open tabs; retrying in " + after + " s");
    }
    if (!res.ok || !res.body) throw new Error("stream answered " + res.status);
    this.onState("live");
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    let ev: StreamEvent = { id: "", type: "message", data: "" };
    let data: string[] = [];
    let wait = this.retryMs;
    let reauth = false;
    let stall = setTimeout(() => abort.abort(), this.stallMs);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        clearTimeout(stall);
        stall = setTimeout(() => abort.abort(), this.stallMs);
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, "");
          buf = buf.slice(nl + 1);
          if (line === "") {
            if (data.length) {
              ev.data = data.join("\n");
              if (ev.id) this.lastId = ev.id;
              if (ev.type === "shutdown") wait = 250;
              else if (ev.type === "reauth") reauth = true;
              else if (!ev.id || this.remember(ev.id)) this.onEvent(ev);
            }
            ev = { id: "", type: "message", data: "" };
            data = [];
            continue;
          }
          if (line.startsWith(":")) continue; // a heartbeat
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") ev.id = value;
          else if (field === "event") ev.type = value;
          else if (field === "data") data.push(value);
          else if (field === "retry" && /^\d+$/.test(value)) this.retryMs = Number(value);
        }
      }
    } finally {
      clearTimeout(stall);
    }
    if (reauth) {
      if (tokenExpired(token())) {
        onUnauthorized();
        throw new Error("signed out");
      }
      return 0;
    }
    return wait;
  }

  // remember records an event id and reports whether it is new.
  private remember(id: string): boolean {
    if (this.seen.includes(id)) return false;
    this.seen.push(id);
    if (this.seen.length > 500) this.seen.shift();
    return true;
  }
}
