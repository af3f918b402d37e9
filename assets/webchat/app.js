// askerp web chat (demo only). Plain script, no dependencies, no build step.
//
// Every text that came from a user, the bot or the ERP is put in the page with
// textContent or as the value of an attribute, never as HTML: the markdown below is
// parsed into DOM nodes, and anything it does not know stays text.
"use strict";

(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  };

  const UNKNOWN_USER = "visitor.unknown";

  const state = {
    labels: {},
    lang: "en",
    users: [],
    user: "",
    group: "cidDemoGroup==",
    active: "group", // or "1:1"
    lastSeq: 0,
    seen: new Set(), // "seq|pane" already shown
    logs: {}, // pane key -> entries
    cards: {}, // outTrackId -> entry
    busy: false,
  };

  // ---- labels -------------------------------------------------------------------
  function t(key, vars) {
    const table = state.labels[state.lang] || state.labels.en || {};
    let s = table[key] || (state.labels.en || {})[key] || key;
    for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  function applyLabels() {
    document.documentElement.lang = state.lang;
    document.title = t("title");
    for (const e of document.querySelectorAll("[data-label]")) e.textContent = t(e.dataset.label);
    for (const e of document.querySelectorAll("[data-label-attr]")) {
      const [attr, key] = e.dataset.labelAttr.split(":");
      e.setAttribute(attr, t(key));
    }
    describeUser();
    renderAll();
  }

  function pickLanguage() {
    const saved = localStorage.getItem("askerp.webchat.lang");
    if (saved && state.labels[saved]) return saved;
    for (const l of navigator.languages || [navigator.language || "en"]) {
      const low = l.toLowerCase();
      if (low.startsWith("zh")) return /(hk|tw|mo|hant)/.test(low) ? "zh-HK" : "zh-CN";
      if (low.startsWith("ms")) return "ms";
      if (low.startsWith("vi")) return "vi";
      if (low.startsWith("en")) return "en";
    }
    return "en";
  }

  // ---- markdown (DingTalk's subset) ---------------------------------------------
  // Blocks: headings, paragraphs (single line breaks kept), - / * / + lists, 1. lists,
  // > quotes, --- rules. Inline: **bold**, *italic*, `code`, [text](link), ![alt](image).
  function renderMarkdown(text, images, pane) {
    const root = el("div", { class: "md" });
    const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
    let para = null;
    let list = null;
    const close = () => { para = null; list = null; };
    for (const raw of lines) {
      const line = raw.replace(/\s+$/, "");
      let m;
      if (line.trim() === "") { close(); continue; }
      if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
        close();
        root.append(inline(el("h" + Math.min(m[1].length, 4)), m[2], images, pane));
      } else if (/^\s*(-{3,}|\*{3,})\s*$/.test(line)) {
        close();
        root.append(el("hr"));
      } else if ((m = /^\s*[-*+]\s+(.*)$/.exec(line))) {
        if (!list || list.tagName !== "UL") { para = null; list = el("ul"); root.append(list); }
        list.append(inline(el("li"), m[1], images, pane));
      } else if ((m = /^\s*(\d{1,3})\.\s+(.*)$/.exec(line))) {
        if (!list || list.tagName !== "OL") {
          para = null;
          list = el("ol", { start: m[1] === "1" ? null : m[1] });
          root.append(list);
        }
        list.append(inline(el("li"), m[2], images, pane));
      } else if ((m = /^\s*>\s?(.*)$/.exec(line))) {
        close();
        root.append(inline(el("blockquote"), m[1], images, pane));
      } else {
        list = null;
        if (!para) { para = el("p"); root.append(para); } else para.append(el("br"));
        inline(para, line, images, pane);
      }
    }
    return root;
  }

  // Appends the inline content of `src` to `parent` and returns `parent`.
  function inline(parent, src, images, pane) {
    let i = 0;
    let buf = "";
    const flush = () => { if (buf) { parent.append(document.createTextNode(buf)); buf = ""; } };
    while (i < src.length) {
      const rest = src.slice(i);
      let m;
      if ((m = /^`([^`]+)`/.exec(rest))) {
        flush(); parent.append(el("code", {}, m[1])); i += m[0].length;
      } else if ((m = /^!\[([^\]]*)\]\(([^)\s]+)\)/.exec(rest))) {
        flush(); parent.append(image(m[1], m[2], images)); i += m[0].length;
      } else if ((m = /^\[([^\]]+)\]\(([^)\s]+)\)/.exec(rest))) {
        flush(); parent.append(link(m[1], m[2], images, pane)); i += m[0].length;
      } else if ((m = /^\*\*(.+?)\*\*/.exec(rest))) {
        flush(); parent.append(inline(el("strong"), m[1], images, pane)); i += m[0].length;
      } else if ((m = /^\*([^*\s][^*]*?)\*/.exec(rest))) {
        flush(); parent.append(inline(el("em"), m[1], images, pane)); i += m[0].length;
      } else {
        buf += src[i]; i += 1;
      }
    }
    flush();
    return parent;
  }

  // An image is shown only from the demo server's copy of what the simulated DingTalk
  // received; its original source is never fetched by the page.
  function image(alt, source, images) {
    const found = (images || []).find((im) => im.source === source);
    if (!found) return el("span", { class: "noimage" }, "[" + (alt || "image") + "]");
    return el("img", { src: found.url, alt: alt || "", width: found.width, height: found.height, loading: "lazy" });
  }

  function link(text, url, images, pane) {
    const question = followUpText(url);
    if (question !== null) {
      const b = el("button", { type: "button", class: "inline-link" }, text);
      b.addEventListener("click", () => ask(question, pane));
      return b;
    }
    // Other links are shown, not followed: the demo page talks to nothing but its server.
    return el("span", { class: "link", title: url }, text);
  }

  function followUpText(url) {
    const prefix = "dtmd://dingtalkclient/sendMessage?";
    if (!url || !url.startsWith(prefix)) return null;
    for (const kv of url.slice(prefix.length).split("&")) {
      if (kv.startsWith("content=")) {
        try { return decodeURIComponent(kv.slice(8)); } catch (e) { return null; }
      }
    }
    return null;
  }

  // ---- panes --------------------------------------------------------------------
  function paneKey(kind) {
    return kind === "group" ? "g:" + state.group : "u:" + state.user;
  }

  function keyOf(pane) {
    if (!pane) return null;
    if (pane.kind === "group") return "g:" + pane.id;
    if (pane.kind === "one_to_one") return "u:" + pane.id;
    return null;
  }

  function entries(key) {
    if (!state.logs[key]) state.logs[key] = [];
    return state.logs[key];
  }

  function renderAll() {
    renderPane("group");
    renderPane("1:1");
  }

  function renderPane(kind) {
    const log = $(kind === "group" ? "#pane-group .log" : "#pane-1on1 .log");
    log.replaceChildren(...entries(paneKey(kind)).map((e) => renderEntry(e, kind)));
    log.parentElement.scrollTop = log.parentElement.scrollHeight;
  }

  function nameOf(userId) {
    const u = state.users.find((x) => x.id === userId);
    if (!u) return userId;
    return state.lang.startsWith("zh") && u.name_zh ? u.name_zh : u.name;
  }

  function renderEntry(e, kind) {
    if (e.type === "mine") {
      const li = el("li", { class: "msg mine", "data-testid": "mine" },
        el("div", { class: "from" }, e.user === state.user ? t("you") : nameOf(e.user)),
        el("div", { class: "bubble" }, e.text));
      if (e.trace) li.append(renderTrace(e.trace));
      else if (e.error) li.append(el("div", { class: "status bad" }, e.error));
      return li;
    }
    const m = e.msg;
    const card = el("div", { class: "card", "data-testid": "card", "data-via": m.via, "data-seq": m.seq });
    if (m.card) card.append(el("div", { class: "kind" }, t("interactive_card")));
    card.append(renderMarkdown(m.markdown, m.images, kind));
    if (e.updated) card.append(el("div", { class: "updated", "data-testid": "card-updated" }, t("card_updated")));
    if (m.buttons && m.buttons.length) {
      const box = el("div", { class: "buttons" });
      for (const b of m.buttons) {
        if (b.question) {
          const btn = el("button", { type: "button", "data-testid": "card-button" }, b.title);
          if (m.card && m.via === "card") btn.addEventListener("click", () => press(m.card, b.question, kind));
          else btn.addEventListener("click", () => ask(b.question, kind));
          box.append(btn);
        } else {
          box.append(el("button", { type: "button", disabled: true, title: (b.url || "") + " — " + t("link_button") }, b.title));
        }
      }
      card.append(box);
    }
    return el("li", { class: "msg bot", "data-testid": "bot" }, el("div", { class: "from" }, t("bot")), card);
  }

  function renderTrace(tr) {
    const dl = el("dl");
    const row = (key, value, field) => {
      dl.append(el("dt", {}, t(key)), el("dd", { "data-field": field || key }, value === null || value === undefined || value === "" ? "—" : value));
    };
    const score = (s) => s ? s.intent + " (" + Number(s.score).toFixed(1) + ")" : t("none");
    row("normalized", tr.normalized);
    row("locale", tr.locale);
    row("entities", (tr.entities || []).map((x) => x.kind + " “" + x.text + "” = " + x.value).join("; ") || t("none"));
    if ((tr.words || []).length) row("words", tr.words.map((w) => w.class + ": " + w.phrase).join("; "));
    row("cues", tr.winner ? score(tr.winner) + ": " + tr.winner.parts.map((p) => p.cue + " " + (p.weight >= 0 ? "+" : "") + p.weight).join(", ") : t("none"), "cues");
    row("runner_up", tr.runner_up ? score(tr.runner_up) + ": " + tr.runner_up.parts.map((p) => p.cue + " " + (p.weight >= 0 ? "+" : "") + p.weight).join(", ") : t("none"), "runner_up");
    row("why", tr.why);
    if (tr.source && tr.source !== "rule") {
      row("rules_alone", (tr.rules_intent || t("none")) + " — " + t("not_from_rules"), "rules_alone");
    }
    row("intent", tr.intent);
    row("slots", tr.slots && Object.keys(tr.slots).length ? JSON.stringify(tr.slots) : t("none"));
    row("source", tr.source);
    row("rule", tr.rule);
    row("decision", tr.decision);
    row("reason", tr.reason);
    row("connector", tr.connector);
    row("cache", t("cache_value", tr.cache || { hits: 0, misses: 0 }));
    row("erp_latency", tr.erp_latency_ms === null || tr.erp_latency_ms === undefined ? null : tr.erp_latency_ms + " ms");
    row("latency", tr.latency_ms === null || tr.latency_ms === undefined ? null : tr.latency_ms + " ms");
    row("delivery", tr.delivery);
    row("route", (tr.sends || []).join(", "));
    row("audit_hash", tr.audit ? tr.hash : t("audit_missing"), "hash");
    const d = el("details", { class: "trace", "data-testid": "trace" }, el("summary", {}, t("trace")), dl);
    if (tr.callback_status && tr.callback_status !== 200) {
      d.append(el("div", { class: "status bad" }, t("refused", { status: tr.callback_status })));
    }
    return d;
  }

  // ---- messages from the simulator ----------------------------------------------
  function ingest(messages) {
    const touched = new Set();
    for (const m of messages || []) {
      state.lastSeq = Math.max(state.lastSeq, m.seq);
      if (m.via === "card_update") {
        const id = "u|" + m.seq;
        if (state.seen.has(id)) continue;
        state.seen.add(id);
        const entry = state.cards[m.card];
        if (entry) {
          entry.msg = Object.assign({}, entry.msg, { markdown: m.markdown, buttons: m.buttons, images: m.images, title: m.title });
          entry.updated = true;
          touched.add(entry.key);
        }
        continue;
      }
      const key = keyOf(m.pane);
      if (!key) continue;
      const id = m.seq + "|" + key;
      if (state.seen.has(id)) continue;
      state.seen.add(id);
      const entry = { type: "bot", msg: m, key };
      entries(key).push(entry);
      if (m.card) state.cards[m.card] = entry;
      touched.add(key);
    }
    for (const key of touched) {
      for (const kind of ["group", "1:1"]) {
        if (paneKey(kind) === key) {
          renderPane(kind);
          if (kind !== state.active) {
            const tab = kind === "group" ? $("#tab-group") : $("#tab-1on1");
            $(".badge", tab).hidden = false;
            if (kind === "1:1") setStatus(t("private_elsewhere"));
          }
        }
      }
    }
  }

  async function poll() {
    for (;;) {
      try {
        const r = await fetch("/webchat/api/messages?after=" + state.lastSeq + "&wait_ms=20000");
        if (r.ok) ingest((await r.json()).messages);
        else await sleep(2000);
      } catch (e) {
        await sleep(2000);
      }
    }
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // ---- asking and pressing ------------------------------------------------------
  function setStatus(text, bad) {
    const s = $("#status");
    s.textContent = text || "";
    s.classList.toggle("bad", !!bad);
  }

  function setBusy(b) {
    state.busy = b;
    $("#composer button").disabled = b;
    document.body.dataset.busy = b ? "1" : "0";
    setStatus(b ? t("waiting") : "");
  }

  async function post(url, body) {
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || "HTTP " + r.status);
    return data;
  }

  async function ask(text, kind) {
    if (state.busy || !text.trim()) return;
    kind = kind || state.active;
    const entry = { type: "mine", user: state.user, text };
    entries(paneKey(kind)).push(entry);
    renderPane(kind);
    setBusy(true);
    try {
      const data = await post("/webchat/api/ask", { user: state.user, conversation: kind === "group" ? "group" : "1:1", text });
      entry.trace = data.trace;
      renderPane(kind);
      ingest(data.messages);
    } catch (e) {
      entry.error = t("error", { error: e.message });
      renderPane(kind);
    } finally {
      setBusy(false);
    }
  }

  async function press(card, question, kind) {
    if (state.busy) return;
    const entry = { type: "mine", user: state.user, text: question };
    entries(paneKey(kind)).push(entry);
    renderPane(kind);
    setBusy(true);
    try {
      const data = await post("/webchat/api/press", { user: state.user, card, question });
      entry.trace = data.trace;
      renderPane(kind);
      ingest(data.messages);
    } catch (e) {
      entry.error = t("error", { error: e.message });
      renderPane(kind);
    } finally {
      setBusy(false);
    }
  }

  // ---- controls -----------------------------------------------------------------
  function selectPane(kind, focus) {
    state.active = kind;
    for (const tab of document.querySelectorAll('[role="tab"]')) {
      const on = tab.dataset.pane === kind;
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      if (on) { $(".badge", tab).hidden = true; if (focus) tab.focus(); }
    }
    $("#pane-group").classList.toggle("active", kind === "group");
    $("#pane-1on1").classList.toggle("active", kind === "1:1");
    // A pane that was hidden could not scroll; show its newest message now.
    const shown = kind === "group" ? $("#pane-group") : $("#pane-1on1");
    shown.scrollTop = shown.scrollHeight;
  }

  function describeUser() {
    const u = state.users.find((x) => x.id === state.user);
    if (!u) { $("#who").textContent = state.user + " · " + t("unknown_user"); return; }
    const scope = [].concat(u.stores || [], u.regions || []);
    $("#who").textContent = t("roles") + ": " + u.roles.join(", ") + " · " + t("scope") + ": " + (scope.length ? scope.join(", ") : t("scope_none"));
  }

  async function start() {
    const [labels, users] = await Promise.all([
      fetch("/webchat/labels.json").then((r) => r.json()),
      fetch("/webchat/api/users").then((r) => r.json()),
    ]);
    state.labels = labels;
    state.users = users.users || [];
    state.group = users.group || state.group;
    state.lastSeq = users.last_seq || 0;
    state.lang = pickLanguage();
    const sel = $("#user");
    for (const u of state.users) {
      const label = u.id + " — " + u.name + (u.name_zh ? " " + u.name_zh : "") + " (" + u.roles.join(", ") + ")";
      sel.append(el("option", { value: u.id }, label));
    }
    // Someone DingTalk knows but the directory does not: askerp answers with how to get access.
    sel.append(el("option", { value: UNKNOWN_USER, "data-label": "unknown_user" }, t("unknown_user")));
    state.user = state.users.length ? state.users[0].id : "demo.staff";
    const staff = state.users.find((u) => u.id === "demo.staff");
    if (staff) state.user = staff.id;
    sel.value = state.user;
    sel.addEventListener("change", () => { state.user = sel.value; describeUser(); renderPane("1:1"); });
    const lang = $("#lang");
    lang.value = state.lang;
    lang.addEventListener("change", () => {
      state.lang = lang.value;
      localStorage.setItem("askerp.webchat.lang", state.lang);
      applyLabels();
    });
    const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
    for (const tab of tabs) {
      tab.addEventListener("click", () => selectPane(tab.dataset.pane, false));
      tab.addEventListener("keydown", (ev) => {
        if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
          ev.preventDefault();
          const i = tabs.indexOf(tab);
          const next = tabs[(i + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
          selectPane(next.dataset.pane, true);
        }
      });
    }
    const text = $("#composer-text");
    $("#composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const q = text.value;
      if (!q.trim() || state.busy) return;
      text.value = "";
      ask(q, state.active);
    });
    text.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        $("#composer").requestSubmit();
      }
    });
    applyLabels();
    document.body.dataset.ready = "1";
    poll();
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((e) => setStatus(String(e), true));
  });
})();
