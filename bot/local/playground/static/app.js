// The playground page: a Slack-like #general with the real bot in it.
// Everything on screen is replayed from the server's event log (GET /playground/api/events, long-poll).

import { h, renderBlock, renderMessageBody } from "./blocks.js";
import { collect, renderModal, showErrors, showProblem } from "./modal.js";
import { emojify, escapeHtml, mrkdwn } from "./mrkdwn.js";

const API = "/playground/api";
const WAIT = 20; // seconds a long-poll may wait for news

const S = {
  info: null,
  user: localStorage.getItem("playground.user") || "U_ALICE",
  session: null,
  after: 0,
  messages: new Map(), // id -> message, in arrival order (updates keep their place)
  views: {}, // user -> stack of open views
  viewErrors: {}, // view id -> {block_id: message}
  viewProblems: {}, // view id -> message
  traffic: [],
  history: [],
  historyAt: -1,
  modalKey: null,
  modalErrorKey: null,
  scrollDown: false,
  pane: "channel", // or "home": the app's Home tab
  homes: {}, // user -> the Home view the bot published for them
};

const $ = (sel) => document.querySelector(sel);

// ------------------------------------------------------------------------------------------ API

async function call(path, body) {
  const response = await fetch(`${API}/${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = { ok: false, error: `HTTP ${response.status}` };
  }
  return data;
}

function localNote(text) {
  // Shown when the playground server itself can't be reached: nothing went through the bot.
  const id = `client:${Date.now()}`;
  S.messages.set(id, { id, author: "note", text, blocks: [], visible_to: S.user, ephemeral: true, ts: String(Date.now() / 1000) });
  render();
}

// ------------------------------------------------------------------------------------------ events

/** Apply one event to the page's state; returns the part of the page it changed. */
function apply(event) {
  switch (event.kind) {
    case "message":
    case "update":
      S.messages.set(event.message.id, event.message);
      return "messages";
    case "delete":
      S.messages.delete(event.id);
      return "messages";
    case "clear":
      S.messages.clear();
      return "messages";
    case "view": {
      const owner = event.user ?? S.user;
      const stack = (S.views[owner] ??= []);
      if (event.op === "open") S.views[owner] = [event.view];
      else if (event.op === "push") stack.push(event.view);
      else {
        for (const views of Object.values(S.views)) {
          const i = views.findIndex((v) => v.id === event.view.id);
          if (i >= 0) views[i] = event.view;
        }
      }
      delete S.viewErrors[event.view.id];
      delete S.viewProblems[event.view.id];
      return "modal";
    }
    case "view_close": {
      const owner = event.user ?? S.user;
      if (event.all) S.views[owner] = [];
      else S.views[owner] = (S.views[owner] ?? []).filter((v) => v.id !== event.view_id);
      return "modal";
    }
    case "view_errors":
      S.viewErrors[event.view_id] = event.errors ?? {};
      return "modal";
    case "view_problem":
      S.viewProblems[event.view_id] = event.problem;
      return "modal";
    case "home":
      S.homes[event.user] = event.view;
      return "home";
    case "api":
      S.traffic.push(event);
      if (S.traffic.length > 300) S.traffic.shift();
      return "traffic";
    default:
      return null;
  }
}

function reset() {
  S.after = 0;
  S.messages.clear();
  S.views = {};
  S.viewErrors = {};
  S.viewProblems = {};
  S.traffic = [];
  S.modalKey = null;
  S.modalErrorKey = null;
  S.homes = {};
}

async function poll() {
  let delay = 250;
  for (;;) {
    try {
      const response = await fetch(`${API}/events?after=${S.after}&wait=${WAIT}`, { cache: "no-store" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      if ((S.session !== null && data.session !== S.session) || data.last < S.after) {
        // The server restarted (or its log is shorter than ours): replay from the first event.
        reset();
        S.session = data.session;
        render();
        continue;
      }
      S.session = data.session;
      const changed = new Set(data.events.map(apply));
      S.after = data.last;
      setStatus(null);
      delay = 250;
      render(changed);
    } catch (err) {
      setStatus("Reconnecting to the playground…");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 4000);
    }
  }
}

function setStatus(text) {
  const el = $("#status");
  el.textContent = text ?? "";
  el.hidden = !text;
  document.body.classList.toggle("offline", Boolean(text));
}

// ------------------------------------------------------------------------------------------ render

function userName(id) {
  if (S.info?.users?.[id]) return S.info.users[id].name;
  if (id === S.info?.bot?.id) return S.info.bot.name;
  return id;
}

const ctx = { userName, onAction: sendAction };

function initials(name) {
  return name
    .split(/\s+/)
    .map((w) => w[0])
    .join("")
    .slice(0, 2)
    .toUpperCase();
}

function timeOf(ts) {
  const d = new Date(Number(ts) * 1000);
  return Number.isNaN(d.getTime()) ? "" : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function author(m) {
  if (m.author === "bot") return { key: "bot", name: S.info?.bot?.name ?? "lifeboat", avatar: h("div", { class: "avatar avatar--bot" }, "🛟"), app: true };
  if (m.author === "note") return { key: "note", name: "Playground", avatar: h("div", { class: "avatar avatar--note" }, "🧭"), app: false };
  const name = userName(m.user);
  return { key: m.user, name, avatar: h("div", { class: `avatar avatar--${m.user === "U_ADMIN" ? "admin" : "user"}` }, initials(name)), app: false };
}

function messageEl(m, continued) {
  const who = author(m);
  const classes = ["msg", `msg--${m.author}`];
  if (m.ephemeral) classes.push("msg--ephemeral");
  if (continued) classes.push("msg--continued");
  let body;
  if (m.author === "command") {
    const [command, ...rest] = m.text.split(" ");
    body = h("div", { class: "bk-text" }, h("span", { class: "slash" }, command), " ", h("span", { html: mrkdwn(rest.join(" "), ctx) }));
  } else {
    body = renderMessageBody(m, ctx);
  }
  const where = m.channel && m.channel !== S.info?.channel?.id ? (m.channel.startsWith("D") ? "Direct message" : m.channel) : null;
  return h(
    "div",
    { class: classes.join(" "), dataset: { id: m.id, author: m.author } },
    continued ? h("div", { class: "gutter" }, h("time", {}, timeOf(m.ts))) : who.avatar,
    h(
      "div",
      { class: "msg-body" },
      m.ephemeral ? h("div", { class: "only-you" }, h("span", { class: "eye", "aria-hidden": "true" }, "👁"), " Only visible to you") : null,
      continued
        ? null
        : h(
            "div",
            { class: "msg-meta" },
            h("span", { class: "msg-name" }, who.name),
            who.app ? h("span", { class: "app-badge" }, "APP") : null,
            h("time", { class: "msg-time" }, timeOf(m.ts)),
            where ? h("span", { class: "msg-where" }, where) : null,
          ),
      body,
      m.author === "command" ? h("div", { class: "cmd-note" }, "slash command · only you see this") : null,
      m.edited ? h("span", { class: "edited" }, "(edited)") : null,
    ),
  );
}

function visible(m) {
  return !m.visible_to || m.visible_to === S.user;
}

function renderMessages() {
  const list = $("#messages");
  const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 120;
  list.replaceChildren();
  let previous = null;
  const shown = [...S.messages.values()].filter(visible);
  if (!shown.length) {
    list.append(
      h(
        "div",
        { class: "empty" },
        h("div", { class: "empty-title" }, "This is the very beginning of #general"),
        h("div", { html: emojify(mrkdwn("Ask the bot: `/survive 1st class woman, 29, with my husband`, or just `/survive` for a form. Admins can `/retrain`.", ctx)) }),
      ),
    );
  }
  for (const m of shown) {
    const continued =
      previous &&
      previous.author === m.author &&
      previous.user === m.user &&
      previous.ephemeral === m.ephemeral &&
      m.author !== "command" &&
      previous.author !== "command" &&
      Number(m.ts) - Number(previous.ts) < 120;
    list.append(messageEl(m, continued));
    previous = m;
  }
  if (nearBottom || S.scrollDown) list.scrollTop = list.scrollHeight;
  S.scrollDown = false;
}

function renderModalLayer() {
  const root = $("#modal-root");
  const stack = S.views[S.user] ?? [];
  const view = stack[stack.length - 1];
  const key = view ? `${S.user}:${view.id}:${view.hash}` : null;
  if (key !== S.modalKey) {
    S.modalKey = key;
    S.modalErrorKey = null; // a new dialog: show its errors afresh
    root.replaceChildren();
    if (view) {
      const overlay = renderModal(
        view,
        {
          depth: stack.length,
          onSubmit: (values, button) => submitView(view, values, button),
          onClose: () => closeView(view),
          onAction: (action, el, values) => sendAction({ ...action, view_id: view.id, values }, el),
        },
        ctx,
      );
      root.append(overlay);
      const first = overlay.querySelector("input, select, textarea");
      (first ?? overlay.querySelector(".modal-x"))?.focus();
    }
  }
  const dialog = root.querySelector(".modal");
  const errors = view ? S.viewErrors[view.id] : undefined;
  const problem = view ? S.viewProblems[view.id] : undefined;
  const errorKey = view ? JSON.stringify([view.id, errors ?? null, problem ?? null]) : null;
  if (dialog && view && errorKey !== S.modalErrorKey) {
    // Only when they change: showing errors moves the focus to the first wrong field.
    showErrors(dialog, errors);
    showProblem(dialog, problem);
    if (errors || problem) setBusy(dialog.querySelector(".modal-submit"), false);
  }
  S.modalErrorKey = errorKey;
  document.body.classList.toggle("has-modal", Boolean(view));
}

function renderTraffic() {
  const list = $("#traffic-list");
  if ($("#traffic").hidden) return;
  list.replaceChildren(
    ...S.traffic
      .slice(-80)
      .reverse()
      .map((e) =>
        h(
          "li",
          { class: e.ok ? "ok" : "failed" },
          h("code", {}, e.method),
          " ",
          h("span", { class: "traffic-result" }, e.ok ? "ok" : e.error ?? `HTTP ${e.status}`),
          h("time", {}, new Date(e.at * 1000).toLocaleTimeString()),
        ),
      ),
  );
}

function renderHome() {
  const root = $("#home");
  if (root.hidden) return;
  const view = S.homes[S.user];
  if (!view) {
    root.replaceChildren(h("div", { class: "empty" }, "Opening Home…"));
    return;
  }
  // Buttons in a Home view are block_actions from that view (no message, no response URL).
  const homeCtx = { ...ctx, onAction: (action, el) => sendAction({ ...action, view_id: view.id }, el) };
  const top = root.scrollTop;
  root.replaceChildren(
    h("div", { class: "home-view bk-blocks", dataset: { viewId: view.id } }, (view.blocks ?? []).map((b, i) => renderBlock(b, i, homeCtx))),
  );
  root.scrollTop = top;
}

/** The channel or the app's Home: opening Home sends app_home_opened, as Slack does. */
async function showPane(pane) {
  S.pane = pane;
  const home = pane === "home";
  $("#home").hidden = !home;
  $("#messages").hidden = home;
  document.body.classList.toggle("on-home", home);
  $("#nav-home").classList.toggle("active", home);
  $("#nav-channel").classList.toggle("active", !home);
  $("#pane-title").textContent = home ? "🛟 lifeboat · Home" : `# ${S.info.channel.name}`;
  $("#pane-topic").textContent = home ? "The app's Home tab: the model card, your last answers, and (for admins) the versions" : "Would you have survived the Titanic? Ask /survive";
  render();
  if (home) {
    try {
      const result = await call("home", { user: S.user });
      if (!result.ok) localNote(`:warning: Home did not open: ${result.error ?? `HTTP ${result.status}`}`);
    } catch {
      localNote(":warning: The playground server is not answering.");
    }
  }
}

/** Redraw the parts that changed (all of them by default). */
function render(parts = new Set(["messages", "modal", "traffic", "home"])) {
  if (parts.has("home")) renderHome();
  if (parts.has("messages")) renderMessages();
  if (parts.has("modal")) renderModalLayer();
  if (parts.has("traffic")) renderTraffic();
}

// ------------------------------------------------------------------------------------------ actions

function setBusy(el, busy) {
  if (!el) return;
  el.disabled = busy;
  el.classList.toggle("is-busy", busy);
}

async function sendAction(action, el) {
  const message = el?.closest?.(".msg");
  const body = { user: S.user, ...action };
  if (!action.view_id) body.message_id = message?.dataset.id;
  setBusy(el, true);
  try {
    const result = await call("action", body);
    if (!result.ok && result.error && !result.status) localNote(`:warning: ${result.error}`);
  } catch {
    localNote(":warning: The playground server is not answering.");
  } finally {
    setBusy(el, false);
  }
}

async function submitView(view, values, button) {
  delete S.viewErrors[view.id];
  delete S.viewProblems[view.id];
  S.modalErrorKey = null; // the same errors again must be shown again
  setBusy(button, true);
  try {
    const result = await call("view", { user: S.user, view_id: view.id, values });
    if (!result.ok && result.error === "that form is closed") {
      apply({ kind: "view_close", user: S.user, view_id: view.id });
      render();
    }
  } catch {
    const dialog = $("#modal-root .modal");
    if (dialog) showProblem(dialog, "We had some trouble connecting. Try again?");
  } finally {
    if (button.isConnected) setBusy(button, false);
  }
}

async function closeView(view) {
  apply({ kind: "view_close", user: S.user, view_id: view.id }); // close at once, as Slack does
  render();
  try {
    await call("view_closed", { user: S.user, view_id: view.id });
  } catch {
    /* the server forgets it on its own */
  }
}

async function send() {
  const box = $("#box");
  const text = box.value.trim();
  if (!text) return;
  box.value = "";
  autosize();
  hideSuggest();
  S.history.push(text);
  S.historyAt = -1;
  S.scrollDown = true;
  try {
    const result = await call(text.startsWith("/") ? "command" : "message", { user: S.user, text });
    if (!result.ok && result.error && result.error !== "unknown_command" && !result.status) {
      localNote(`:warning: ${result.error}`);
    }
  } catch {
    localNote(":warning: The playground server is not answering: is `make run` still running?");
  }
}

// ------------------------------------------------------------------------------------------ composer

function autosize() {
  const box = $("#box");
  box.style.height = "auto";
  box.style.height = `${Math.min(box.scrollHeight, 160)}px`;
}

function hideSuggest() {
  $("#suggest").hidden = true;
}

function suggest() {
  const box = $("#box");
  const text = box.value;
  const el = $("#suggest");
  if (!text.startsWith("/") || text.includes(" ") || !S.info) return hideSuggest();
  const matches = S.info.commands.filter((c) => c.command.startsWith(text.toLowerCase()));
  if (!matches.length) return hideSuggest();
  el.replaceChildren(
    h("div", { class: "suggest-title" }, "Commands"),
    ...matches.map((c) =>
      h(
        "button",
        {
          type: "button",
          class: "suggest-item",
          onmousedown: (e) => {
            e.preventDefault();
            box.value = `${c.command} `;
            hideSuggest();
            box.focus();
          },
        },
        h("b", {}, c.command),
        h("span", { html: ` ${escapeHtml(c.hint)}` }),
      ),
    ),
  );
  el.hidden = false;
}

function setupComposer() {
  const box = $("#box");
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Tab" && !$("#suggest").hidden) {
      e.preventDefault();
      $("#suggest .suggest-item")?.dispatchEvent(new MouseEvent("mousedown"));
    } else if (e.key === "ArrowUp" && !box.value && S.history.length) {
      e.preventDefault();
      S.historyAt = S.history.length - 1;
      box.value = S.history[S.historyAt];
    } else if (e.key === "Escape") {
      hideSuggest();
    }
  });
  box.addEventListener("input", () => {
    autosize();
    suggest();
  });
  box.addEventListener("blur", hideSuggest);
  $("#send").addEventListener("click", send);
}

function setupHeader() {
  const who = $("#who");
  who.replaceChildren(
    ...Object.entries(S.info.users).map(([id, u]) => h("option", { value: id, selected: id === S.user }, u.label)),
  );
  if (!S.info.users[S.user]) S.user = Object.keys(S.info.users)[0];
  who.value = S.user;
  who.addEventListener("change", () => {
    S.user = who.value;
    localStorage.setItem("playground.user", S.user);
    S.modalKey = null;
    S.scrollDown = true;
    render();
    if (S.pane === "home") showPane("home"); // their own Home: Slack sends app_home_opened again
    else $("#box").focus();
  });
  $("#nav-home").addEventListener("click", (e) => {
    e.preventDefault();
    showPane("home");
  });
  $("#nav-channel").addEventListener("click", (e) => {
    e.preventDefault();
    showPane("channel");
  });
  $("#traffic-toggle").addEventListener("click", () => {
    $("#traffic").hidden = !$("#traffic").hidden;
    renderTraffic();
  });
  $("#clear").addEventListener("click", () => call("clear", {}));
  $("#channel-name").textContent = S.info.channel.name;
  $("#box").placeholder = `Message #${S.info.channel.name}`;
}

async function start() {
  for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
    try {
      const response = await fetch(`${API}/info`, { cache: "no-store" });
      S.info = await response.json();
      break;
    } catch {
      setStatus("Waiting for the playground server…");
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  setStatus(null);
  setupHeader();
  setupComposer();
  render();
  document.body.dataset.ready = "true";
  $("#box").focus();
  poll();
}

start();
