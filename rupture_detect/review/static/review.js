/* The review page: a queue of flagged client turns, decisions by key or button, a session view for missed
   markers. Everything is built with DOM methods and textContent (never innerHTML); every request goes to this
   server only (the page's Content-Security-Policy allows nothing else). */
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const S = { items: [], index: -1, current: null, browse: null, browseIndex: -1, labelMode: null };
  let reviewer = (localStorage.getItem("rupture-review-reviewer") || document.body.dataset.reviewer || "").trim();
  let toastTimer = null;
  const DONE_TEXT = { accept: "Accepted", reject: "Rejected (no marker)", relabel: "Relabelled", skip: "Skipped",
    missed: "Missed marker added", memo: "Memo saved" };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "dataset") Object.assign(node.dataset, v);
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false)
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  function toast(message, isError) {
    const t = $("toast");
    t.textContent = message;
    t.classList.toggle("error", !!isError);
    t.setAttribute("role", isError ? "alert" : "status");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.textContent = ""; }, isError ? 12000 : 6000);
  }

  async function api(method, path, body) {
    const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(Object.assign({ reviewer }, body));
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const err = new Error((data && data.error) || `${res.status} ${res.statusText}`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  const query = (params) => {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) u.set(k, v);
    u.set("reviewer", reviewer);
    return u.toString();
  };
  const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(100 * x)}%`);
  const keyOf = (o) => JSON.stringify([o.session_id, o.turn]);
  const codeText = (d) => (d.marker === "none" ? "no marker" : [d.marker, d.subtype, d.dimension].filter(Boolean).join(" · "));

  function filters() {
    const f = new FormData($("filters"));
    return { session: f.get("session"), family: f.get("family"), subtype: f.get("subtype"),
      min_conf: f.get("min_conf"), max_conf: f.get("max_conf"), status: f.get("status"), sort: f.get("sort") };
  }

  function showProgress(p) {
    $("p-done").textContent = p.done; $("p-left").textContent = p.left;
    $("p-skipped").textContent = p.skipped; $("p-missed").textContent = p.missed;
    $("p-bar").max = Math.max(p.total, 1); $("p-bar").value = p.done;
  }

  async function loadQueue(keep) {
    let data;
    try { data = await api("GET", `/api/items?${query(filters())}`); } catch (e) { toast(e.message, true); return; }
    S.items = data.items;
    showProgress(data.progress);
    $("queue-count").textContent = `(${S.items.length})`;
    const list = $("queue-list");
    list.replaceChildren(...S.items.map((it, i) => el("li", {},
      el("button", { type: "button", class: `q-item ${it.family} ${it.status}`, dataset: { i },
        on: { click: () => select(i) } },
        el("span", { class: `badge ${it.family}` }, it.family),
        el("span", { class: "q-where" }, `${it.session_id} · turn ${it.turn}`),
        el("span", { class: "q-sub" }, it.subtype_label),
        el("span", { class: "q-conf" }, pct(it.confidence)),
        el("span", { class: "q-status" }, it.status === "open" ? "open" : it.status === "skipped" ? "skipped"
          : (it.action === "accept" ? "accepted" : it.action === "reject" ? "rejected" : "relabelled"))))));
    if (!S.items.length) { S.index = -1; S.current = null; renderEmpty(); return; }
    let i = keep ? S.items.findIndex((it) => keyOf(it) === keep) : -1;
    if (i < 0) i = Math.min(Math.max(S.index, 0), S.items.length - 1);
    await select(i, true);
  }

  function renderEmpty() {
    $("detail-h").textContent = "Nothing in the queue with these filters";
    $("item").replaceChildren(el("p", { class: "muted" }, "Change the filters, or browse a session (B) to mark missed markers."));
    $("history-list").replaceChildren();
  }

  async function select(i, quiet) {
    if (i < 0 || i >= S.items.length) return;
    S.index = i;
    for (const b of document.querySelectorAll("#queue-list .q-item"))
      b.toggleAttribute("aria-current", +b.dataset.i === i);
    const it = S.items[i];
    let d;
    try { d = await api("GET", `/api/item?${query({ session: it.session_id, turn: it.turn })}`); }
    catch (e) { toast(e.message, true); return; }
    S.current = d;
    renderItem(d);
    const btn = document.querySelector(`#queue-list .q-item[data-i="${i}"]`);
    if (btn) btn.scrollIntoView({ block: "nearest" });
    if (!quiet) $("detail").focus({ preventScroll: true });
  }

  function renderItem(d) {
    $("detail-h").textContent = `Session ${d.session_id} · turn ${d.turn}${d.time ? ` · ${d.time}` : ""}`;
    const ctx = el("ol", { class: "context", "aria-label": "The turn in its context" }, d.context.map((c) =>
      el("li", { class: `utt ${c.speaker} ${c.role}${c.response ? " response" : ""}` },
        el("span", { class: "spk" }, `${c.speaker} · turn ${c.turn}${c.time ? ` · ${c.time}` : ""}`,
          c.response ? el("span", { class: "tag" }, "next practitioner turn") : null,
          c.flagged && c.role !== "turn" ? el("span", { class: "tag" }, "also flagged") : null),
        el("p", { class: "text" }, c.pieces.map(([text, rules]) =>
          rules ? el("mark", { title: `evidence: ${rules}` }, text) : text)))));
    const evidence = [...d.rules.map((r) => el("code", {}, r)), d.model_p ? `model p=${d.model_p}` : null,
      ...d.other_evidence].filter(Boolean);
    const facts = el("dl", { class: "facts" },
      el("dt", {}, "Tool's code"), el("dd", {}, el("span", { class: `badge ${d.family}` }, d.family), ` ${d.subtype_label}`,
        d.dimension ? ` · ${d.dimension} strain` : ""),
      el("dt", {}, "Confidence"), el("dd", {}, `${pct(d.confidence)}`, d.p_marker !== null && d.p_marker !== undefined
        ? ` (P(marker) ${d.p_marker.toFixed(2)}, threshold ${d.threshold.toFixed(2)})` : ""),
      el("dt", {}, "Evidence"), el("dd", {}, evidence.length ? evidence.flatMap((x, k) => (k ? ["; ", x] : [x])) : "none recorded"),
      el("dt", {}, "What it means"), el("dd", {}, d.meaning || "–"),
      el("dt", {}, "Suggested strategies"), el("dd", {}, d.suggested.length
        ? el("ol", { class: "strategies" }, d.suggested.map((s) => el("li", {}, `${s.label} `, el("span", { class: "muted" }, `(${s.tier})`))))
        : "none"),
      el("dt", {}, "What the practitioner did next"), el("dd", {}, nextStep(d.next)),
      el("dt", {}, "Your decision"), el("dd", { id: "my-decision" }, d.decision && d.decision.action
        ? `${d.decision.action}: ${codeText(d.decision)}` : "none yet"));
    $("item").replaceChildren(ctx, facts);
    $("memo").value = (d.decision && d.decision.memo) || "";
    renderHistory(d.history);
  }

  function nextStep(n) {
    if (n.kind === "episode") {
      const strategies = n.strategies.map((s) => s.label).join(", ");
      return [n.response_turn ? `Turn ${n.response_turn} (marked above): ` : "The session ends before a response. ",
        strategies ? `strategies ${strategies}` : "no repair strategy detected",
        n.outcome ? `; outcome ${n.outcome}${n.reason ? ` (${n.reason})` : ""}` : ""].join("");
    }
    if (n.kind === "recurrence") return `The marker comes back inside episode ${n.episode} (opened at turn ${n.opening_turn}); outcome ${n.outcome || "–"}.`;
    if (n.kind === "next_turn") return `Turn ${n.response_turn}, marked above.`;
    return "The session ends here.";
  }

  function renderHistory(rows) {
    $("history-list").replaceChildren(...(rows || []).map((r) => el("li", { class: r.undone ? "undone" : "" },
      `${r.created_at.replace("T", " ").slice(0, 19)} · ${r.reviewer} · ${r.action}`,
      r.action === "undo" ? ` of #${r.undoes}` : (r.marker ? ` · ${codeText(r)}` : ""),
      r.memo ? ` · “${r.memo}”` : "", r.undone ? " (undone)" : "", r.stale ? " (on earlier text)" : "")));
  }

  function browseTarget() {
    const t = S.browse && S.browse.turns[S.browseIndex];
    return t ? { session_id: S.browse.session_id, turn: t.turn, hash: t.hash } : null;
  }

  // Decisions and undos run one after another, in the order of the keys pressed; each takes its turn when it
  // runs, so pressing A twice accepts this turn and then the next.
  let chain = Promise.resolve();
  const serially = (work) => { chain = chain.then(work, work); return chain; };
  const decide = (action, code, target) => serially(() => record(action, code, target));
  const undo = () => serially(takeBack);

  async function record(action, code, target) {
    const t = target || (S.browse ? browseTarget() : S.current);
    if (!t) return;
    try {
      const body = Object.assign({ session_id: t.session_id, turn: t.turn, hash: t.hash, action,
        memo: $("memo").value }, code || {});
      const data = await api("POST", "/api/decisions", body);
      showProgress(data.progress);
      const d = data.decision;
      toast(`${DONE_TEXT[action]} on session ${d.session_id} turn ${d.turn}. U undoes it.`);
      if (S.browse) await openBrowse(S.browse.session_id, t.turn);
      else if (action === "memo") await select(S.index, true);
      else await advance();
    } catch (e) {
      toast(e.status === 409 ? `Not recorded: ${e.message}` : e.message, true);
      if (e.status === 409) await loadQueue(S.current ? keyOf(S.current) : null);
    }
  }

  async function advance() {
    const before = S.current ? keyOf(S.current) : null;
    const oldIndex = S.index;
    await loadQueue(before);
    const from = S.items.findIndex((it) => keyOf(it) === before);
    const start = from >= 0 ? from + 1 : oldIndex;
    for (let k = 0; k < S.items.length; k++) {
      const i = (start + k) % S.items.length;
      if (S.items[i].status === "open") { await select(i); return; }
    }
    if (S.items.length) await select(Math.min(start, S.items.length - 1));
  }

  async function takeBack() {
    try {
      const data = await api("POST", "/api/undo", {});
      showProgress(data.progress);
      const u = data.undone;
      toast(`Undid ${u.action} on session ${u.session_id} turn ${u.turn} (kept in the history).`);
      if (S.browse) await openBrowse(S.browse.session_id, u.turn);
      else await loadQueue(keyOf(u));
    } catch (e) { toast(e.message, true); }
  }

  function openLabel(mode, target) {
    S.labelMode = { mode, target };
    $("label-h").textContent = mode === "missed"
      ? `Missed marker on session ${target.session_id} turn ${target.turn}` : "Relabel";
    const fam = target.family && target.family !== "none" ? target.family : "withdrawal";
    $("l-family").value = fam;
    syncSubtypes(target.subtype);
    $("label-form").hidden = false;
    $("l-family").focus();
  }

  function closeLabel() { $("label-form").hidden = true; S.labelMode = null; }

  function syncSubtypes(wanted) {
    const fam = $("l-family").value;
    const opts = [...$("l-subtype").options];
    for (const o of opts) { o.hidden = o.dataset.family !== fam; o.disabled = o.hidden; }
    const pick = opts.find((o) => o.value === wanted && !o.hidden) || opts.find((o) => !o.hidden);
    $("l-subtype").value = pick.value;
    $("l-dimension").value = pick.dataset.dimension;
  }

  async function submitLabel(ev) {
    ev.preventDefault();
    if (!S.labelMode) return;
    const { mode, target } = S.labelMode;
    const code = { marker: $("l-family").value, subtype: $("l-subtype").value, dimension: $("l-dimension").value };
    closeLabel();
    await decide(mode, code, target);
  }

  async function openBrowse(sessionId, focusTurn) {
    let data;
    try { data = await api("GET", `/api/session?${query({ session: sessionId })}`); } catch (e) { toast(e.message, true); return; }
    S.browse = data;
    $("browse-h").textContent = `Session ${sessionId}`;
    $("browse").hidden = false;
    $("actions").hidden = true;
    $("item").hidden = true;
    $("browse-list").replaceChildren(...data.turns.map((t, i) => {
      const mine = t.decision && t.decision.action && t.decision.action !== "skip" ? t.decision : null;
      return el("li", { class: `b-turn ${t.speaker}${t.flagged ? " flagged" : ""}`, dataset: { i }, tabindex: "-1",
        on: { click: () => moveBrowse(i) } },
        el("span", { class: "spk" }, `${t.speaker} · turn ${t.turn}${t.time ? ` · ${t.time}` : ""}`,
          t.flagged ? el("span", { class: `badge ${t.family}` }, `${t.family}: ${t.subtype}`) : null,
          mine ? el("span", { class: "tag mine" }, `you: ${mine.action} ${codeText(mine)}`) : null),
        el("p", { class: "text" }, t.text),
        t.speaker === "client" && !t.flagged ? el("button", { type: "button", class: "missed",
          on: { click: (e) => { e.stopPropagation(); moveBrowse(i); markMissed(); } } }, "Mark missed marker (X)") : null);
    }));
    let i = data.turns.findIndex((t) => t.turn === focusTurn);
    if (i < 0) i = data.turns.findIndex((t) => t.speaker === "client");
    moveBrowse(Math.max(i, 0));
  }

  function moveBrowse(i) {
    if (!S.browse || i < 0 || i >= S.browse.turns.length) return;
    S.browseIndex = i;
    for (const li of document.querySelectorAll("#browse-list .b-turn")) li.toggleAttribute("aria-current", +li.dataset.i === i);
    const t = S.browse.turns[i];
    $("memo").value = (t.decision && t.decision.memo) || "";
    const li = document.querySelector(`#browse-list .b-turn[data-i="${i}"]`);
    if (li) { li.focus({ preventScroll: true }); li.scrollIntoView({ block: "nearest" }); }
  }

  function stepBrowse(dir) {
    const turns = S.browse.turns;
    for (let i = S.browseIndex + dir; i >= 0 && i < turns.length; i += dir)
      if (turns[i].speaker === "client") { moveBrowse(i); return; }
  }

  function markMissed() {
    const t = S.browse && S.browse.turns[S.browseIndex];
    if (!t) return;
    if (t.speaker !== "client") { toast("Only client turns carry markers.", true); return; }
    if (t.flagged) { toast("The tool flagged this turn: accept or relabel it in the queue.", true); return; }
    openLabel("missed", { session_id: S.browse.session_id, turn: t.turn, hash: t.hash, family: "", subtype: "" });
  }

  function closeBrowse() {
    S.browse = null; S.browseIndex = -1;
    $("browse").hidden = true; $("actions").hidden = false; $("item").hidden = false;
    loadQueue(S.current ? keyOf(S.current) : null);
  }

  let searchTimer = null;
  async function runSearch() {
    const q = $("search").value.trim();
    if (!q) { $("search-results").hidden = true; return; }
    let data;
    try { data = await api("GET", `/api/search?${query({ q, session: filters().session })}`); } catch (e) { toast(e.message, true); return; }
    $("search-results").hidden = false;
    $("search-count").textContent = data.total > data.results.length ? `(first ${data.results.length} of ${data.total})` : `(${data.total})`;
    $("search-list").replaceChildren(...data.results.map((r) => el("li", {},
      el("button", { type: "button", class: `q-item ${r.flagged ? r.family : "unflagged"}`,
        on: { click: () => openBrowse(r.session_id, r.turn) } },
        el("span", { class: "q-where" }, `${r.session_id} · turn ${r.turn}`),
        el("span", { class: "q-sub" }, r.text.length > 90 ? `${r.text.slice(0, 90)}…` : r.text)))));
  }

  function onKey(ev) {
    const tag = (ev.target.tagName || "").toLowerCase();
    const typing = tag === "input" || tag === "textarea" || tag === "select";
    if ($("help").open) return;
    if (ev.key === "Escape") {
      if (!$("label-form").hidden) { closeLabel(); ev.preventDefault(); return; }
      if (typing) { ev.target.blur(); return; }
      if (S.browse) { closeBrowse(); ev.preventDefault(); }
      return;
    }
    if (ev.key === "Enter" && !$("label-form").hidden && $("label-form").contains(ev.target) && tag !== "button") {
      ev.preventDefault(); $("label-form").requestSubmit(); return;
    }
    if (ev.target.id === "memo" && ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); decide("memo"); return; }
    if (ev.target.id === "search" && ev.key === "Enter") {
      ev.preventDefault();
      const first = document.querySelector("#search-list button");
      if (first) first.click();
      return;
    }
    if (typing || ev.altKey || ev.metaKey || (ev.ctrlKey && ev.key !== "z")) return;
    const k = ev.key === "z" && ev.ctrlKey ? "u" : ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    const inBrowse = !!S.browse;
    const act = {
      j: () => (inBrowse ? stepBrowse(1) : select(S.index + 1)), ArrowDown: () => (inBrowse ? stepBrowse(1) : select(S.index + 1)),
      k: () => (inBrowse ? stepBrowse(-1) : select(S.index - 1)), ArrowUp: () => (inBrowse ? stepBrowse(-1) : select(S.index - 1)),
      a: () => !inBrowse && decide("accept"), r: () => !inBrowse && decide("reject"),
      e: () => !inBrowse && S.current && openLabel("relabel", S.current), s: () => !inBrowse && decide("skip"),
      m: () => $("memo").focus(), u: () => undo(), x: () => inBrowse && markMissed(),
      b: () => (inBrowse ? closeBrowse() : S.current && openBrowse(S.current.session_id, S.current.turn)),
      "/": () => $("search").focus(), "?": () => $("help").showModal(),
    }[k];
    if (act) { ev.preventDefault(); act(); }
  }

  function init() {
    $("reviewer").value = reviewer;
    $("reviewer").addEventListener("change", () => {
      const v = $("reviewer").value.trim();
      if (!v) { $("reviewer").value = reviewer; return; }
      reviewer = v; localStorage.setItem("rupture-review-reviewer", v);
      toast(`Reviewing as ${v}.`); loadQueue(null);
    });
    $("filters").addEventListener("change", (ev) => { if (ev.target.id !== "search") { S.index = 0; loadQueue(null); } });
    $("filters").addEventListener("submit", (ev) => ev.preventDefault());
    $("search").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(runSearch, 250); });
    $("l-family").addEventListener("change", () => syncSubtypes(null));
    $("l-subtype").addEventListener("change", () => { $("l-dimension").value = $("l-subtype").selectedOptions[0].dataset.dimension; });
    $("label-form").addEventListener("submit", submitLabel);
    $("l-cancel").addEventListener("click", closeLabel);
    $("help-open").addEventListener("click", () => $("help").showModal());
    for (const b of document.querySelectorAll("#actions button")) b.addEventListener("click", () => {
      const a = b.dataset.action;
      if (a === "relabel") { if (S.current) openLabel("relabel", S.current); }
      else if (a === "undo") undo();
      else if (a === "browse") { if (S.current) openBrowse(S.current.session_id, S.current.turn); }
      else decide(a);
    });
    document.addEventListener("keydown", onKey);
    loadQueue(null);
  }

  document.addEventListener("DOMContentLoaded", init);
})();
