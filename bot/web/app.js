/* GridBot web chat simulator (vanilla JS, no build step). Protocol: see bot/connectors/web.py. */
"use strict";

(function () {
  const BOT_NAME = "GridBot 小网";
  const PRIVATE = "__private__";
  const MAX_IMAGE = 5 * 1024 * 1024;
  const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
  const GAP_MS = 5 * 60 * 1000;
  const PALETTE = ["#5b8ff9", "#f6903d", "#5ad8a6", "#e8684a", "#9270ca", "#269a99", "#ff9d4d", "#6dc8ec",
    "#d4a017", "#e86452", "#3b9e6f", "#7f7fd5"];
  const NEW_RESIDENT = "__new_resident__";

  const $ = (id) => document.getElementById(id);
  const el = {
    app: $("app"), identity: $("identity"), conn: $("conn"), banner: $("banner"), community: $("community"),
    chats: $("chats"), search: $("search"), title: $("chat-title"), subtitle: $("chat-subtitle"),
    messages: $("messages"), toast: $("toast"), input: $("input"), send: $("send"), attach: $("attach"),
    file: $("file"), back: $("back"), modal: $("resident-modal"), residentForm: $("resident-form"),
    residentName: $("resident-name"), residentCancel: $("resident-cancel"),
  };

  function remembered(key) {
    try { return sessionStorage.getItem(key) || localStorage.getItem(key) || ""; } catch (e) { return ""; }
  }

  function remember(key, value) {
    try { sessionStorage.setItem(key, value); localStorage.setItem(key, value); } catch (e) { /* private mode */ }
  }

  const state = {
    dir: { groups: [], supervisors: [], residents: [], community: "" },
    people: new Map(),        // name -> {roles: [{topic, role}], title, wechat}
    residents: [],            // names typed in this browser or known to the server
    // Per tab (sessionStorage), so two tabs can be two people; a new tab starts as the last one chosen.
    me: remembered("gridbot.me"),
    active: remembered("gridbot.active"),
    items: [],                // conversation, oldest first
    byId: new Map(),
    seq: 0,
    loadedSeq: 0,             // items up to here came with the history: already read
    lastRead: new Map(),      // conversation key -> seq read up to
    outgoing: new Map(),      // client id -> frame not yet acknowledged
    ws: null,
    retry: 0,
    everConnected: false,
  };
  try { state.residents = JSON.parse(localStorage.getItem("gridbot.residents") || "[]"); } catch (e) { state.residents = []; }
  if (!Array.isArray(state.residents)) state.residents = [];

  // ------------------------------------------------------------------ helpers

  function newId() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function hash(text) {
    let h = 0;
    for (const ch of text) h = (h * 31 + ch.codePointAt(0)) >>> 0;
    return h;
  }

  function colorOf(name) { return PALETTE[hash(name || "?") % PALETTE.length]; }

  function initials(name) {
    const chars = Array.from(name || "?");
    if (chars.length <= 2) return chars.join("");
    return chars.slice(-2).join("");
  }

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function shanghaiNow() {
    const parts = new Intl.DateTimeFormat("sv-SE", {
      timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    }).format(new Date());
    return parts.replace(" ", "T") + ".000+08:00";
  }

  function dayOf(at) { return (at || "").slice(0, 10); }
  function hmOf(at) { return (at || "").slice(11, 16); }

  function dayLabel(at) {
    const today = dayOf(shanghaiNow());
    const day = dayOf(at);
    if (day === today) return "";
    const yesterday = new Date(Date.parse(today + "T12:00:00+08:00") - 86400000);
    const y = new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai" }).format(yesterday);
    if (day === y) return "昨天";
    const [yy, mm, dd] = day.split("-").map(Number);
    if (String(yy) === today.slice(0, 4)) return `${mm}月${dd}日`;
    return `${yy}年${mm}月${dd}日`;
  }

  function timeLabel(at) {
    const day = dayLabel(at);
    return day ? `${day} ${hmOf(at)}` : hmOf(at);
  }

  function listTime(at) {
    if (!at) return "";
    const day = dayLabel(at);
    return day || hmOf(at);
  }

  function convOf(item) {
    if (item.type === "bot") return item.chat === "group" ? item.room : PRIVATE + (item.to || "");
    return item.room ? item.room : PRIVATE + (item.from || "");
  }

  function activeKey() {
    return state.active === PRIVATE ? PRIVATE + state.me : state.active;
  }

  function isMine(item) { return item.type === "message" && !!state.me && item.from === state.me; }

  function myNames() {
    const names = new Set();
    if (!state.me) return names;
    names.add(state.me);
    const p = state.people.get(state.me);
    if (p && p.wechat) names.add(p.wechat);
    return names;
  }

  function groupByTopic(topic) { return state.dir.groups.find((g) => g.topic === topic); }

  // ------------------------------------------------------------------ directory and identity

  async function loadDirectory() {
    try {
      const res = await fetch("/api/directory", { cache: "no-store" });
      if (!res.ok) throw new Error(res.status);
      state.dir = await res.json();
    } catch (e) {
      showToast("无法读取花名册，稍后自动重试");
      setTimeout(loadDirectory, 3000);
      return;
    }
    state.people.clear();
    for (const g of state.dir.groups) {
      for (const m of g.members) {
        const p = state.people.get(m.name) || { roles: [], title: "", wechat: m.wechat_name };
        p.roles.push({ topic: g.topic, role: m.role });
        state.people.set(m.name, p);
      }
    }
    for (const s of state.dir.supervisors) {
      const p = state.people.get(s.name) || { roles: [], title: "", wechat: s.name };
      p.title = s.title;
      state.people.set(s.name, p);
    }
    for (const name of state.dir.residents || []) {
      if (!state.residents.includes(name) && !state.people.has(name)) state.residents.push(name);
    }
    el.community.textContent = state.dir.community ? `· ${state.dir.community}` : "";
    if (!state.active || (state.active !== PRIVATE && !groupByTopic(state.active) && !isSmall())) {
      state.active = state.dir.groups.length ? state.dir.groups[0].topic : PRIVATE;
    }
    renderIdentity();
    renderAll();
  }

  function roleLabel(name) {
    const p = state.people.get(name);
    if (!p) return "居民";
    if (p.title) return p.title;
    return p.roles.map((r) => r.role).join("、");
  }

  function unreadPrivateFor(name) {
    const key = PRIVATE + name;
    const since = state.lastRead.has(key) ? state.lastRead.get(key) : state.loadedSeq;
    return state.items.filter((it) => it.seq > since && it.type === "bot" && convOf(it) === key).length;
  }

  function optionLabel(name, extra) {
    const n = name === state.me ? 0 : unreadPrivateFor(name);
    return `${name}（${extra}）${n ? ` · ${n}条新私信` : ""}`;
  }

  function renderIdentity() {
    const sel = el.identity;
    sel.replaceChildren();
    sel.append(h("option", { value: "", text: "请选择身份…" }));
    const listed = new Set();
    for (const g of state.dir.groups) {
      const og = h("optgroup", { label: g.topic });
      for (const m of g.members) {
        og.append(h("option", { value: m.name, text: optionLabel(m.name, m.role) }));
        listed.add(m.name);
      }
      if (g.members.length) sel.append(og);
    }
    if (state.dir.supervisors.length) {
      const og = h("optgroup", { label: "督办（综合网格长 / 社区 / 街道）" });
      for (const s of state.dir.supervisors) {
        og.append(h("option", { value: s.name, text: optionLabel(s.name, s.where ? `${s.title} · ${s.where}` : s.title) }));
        listed.add(s.name);
      }
      sel.append(og);
    }
    const residents = state.residents.filter((n) => !listed.has(n));
    if (state.me && !listed.has(state.me) && !residents.includes(state.me)) residents.push(state.me);
    const og = h("optgroup", { label: "居民" });
    for (const name of residents) og.append(h("option", { value: name, text: optionLabel(name, "居民") }));
    og.append(h("option", { value: NEW_RESIDENT, text: "新居民…" }));
    sel.append(og);
    sel.value = state.me;
  }

  function setMe(name) {
    state.me = name;
    remember("gridbot.me", name);
    if (name && !state.people.has(name) && !state.residents.includes(name)) {
      state.residents.push(name);
      try { localStorage.setItem("gridbot.residents", JSON.stringify(state.residents)); } catch (e) { /* ignore */ }
    }
    renderIdentity();
    renderAll();
  }

  function openResidentDialog() {
    el.modal.hidden = false;
    el.residentName.value = "";
    setTimeout(() => el.residentName.focus(), 0);
  }

  function closeResidentDialog() {
    el.modal.hidden = true;
    el.identity.value = state.me;
  }

  // ------------------------------------------------------------------ conversation list

  function lastItemOf(key) {
    for (let i = state.items.length - 1; i >= 0; i--) {
      if (convOf(state.items[i]) === key) return state.items[i];
    }
    return null;
  }

  function unreadOf(key) {
    if (key === activeKey() && !el.app.classList.contains("list-only")) return 0;
    const since = state.lastRead.has(key) ? state.lastRead.get(key) : state.loadedSeq;
    let n = 0;
    for (const it of state.items) {
      if (it.seq > since && convOf(it) === key && !isMine(it)) n++;
    }
    return n;
  }

  function mentionsMe(key) {
    const since = state.lastRead.has(key) ? state.lastRead.get(key) : state.loadedSeq;
    const names = myNames();
    return state.items.some((it) => it.seq > since && convOf(it) === key && it.type === "bot" &&
      (it.mentions || []).some((m) => names.has(m)));
  }

  function previewOf(item) {
    if (!item) return "";
    if (item.type === "bot") {
      const mentions = (item.mentions || []).map((m) => `@${m} `).join("");
      return `${BOT_NAME}: ${mentions}${item.text}`;
    }
    const text = item.image_url ? "[图片]" : item.text;
    return item.room ? `${item.from}: ${text}` : text;
  }

  function groupAvatar(g) {
    const m = /^(\d+)号楼/.exec(g.topic);
    const label = m ? `${m[1]}号楼` : g.kind === "merchant" ? "商户" : Array.from(g.topic).slice(0, 2).join("");
    return h("div", { class: "avatar group" + (g.kind === "merchant" ? " merchant" : ""), "aria-hidden": "true" },
      groupIcon(), h("span", { class: "group-label", text: label }));
  }

  function groupIcon() {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 16");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "13");
    svg.innerHTML = '<circle cx="8" cy="4.5" r="3.5" fill="#fff"/><path d="M1 15c0-4 3-6.5 7-6.5s7 2.5 7 6.5z" fill="#fff"/>' +
      '<circle cx="17" cy="5" r="3" fill="#fff" opacity=".75"/><path d="M15.5 9.2c4 .1 7.5 2 7.5 5.8h-6.5c0-2.3-.4-4.2-1-5.8z" fill="#fff" opacity=".75"/>';
    return svg;
  }

  function botAvatar() { return h("div", { class: "avatar bot", "aria-hidden": "true", text: "小网" }); }

  function personAvatar(name) {
    return h("div", { class: "avatar", style: `background:${colorOf(name)}`, "aria-hidden": "true", text: initials(name) });
  }

  function chatItem(key, opts) {
    const last = lastItemOf(key === PRIVATE ? PRIVATE + state.me : key);
    const convKey = key === PRIVATE ? PRIVATE + state.me : key;
    const unread = unreadOf(convKey);
    const atMe = unread && mentionsMe(convKey);
    const preview = h("div", { class: "chat-item-preview" },
      atMe ? h("span", { class: "at-me", text: "[有人@我] " }) : null,
      previewOf(last) || opts.empty || "");
    const li = h("li", {
      class: "chat-item" + (state.active === key ? " active" : ""),
      "data-testid": opts.testid, "data-room": key === PRIVATE ? "" : key, role: "button", tabindex: "0",
      onclick: () => openConversation(key), onkeydown: (e) => { if (e.key === "Enter") openConversation(key); },
    },
    opts.avatar,
    h("div", { class: "chat-item-body" },
      h("div", { class: "chat-item-top" },
        h("span", { class: "chat-item-name" }, opts.title, opts.tag || null),
        h("span", { class: "chat-item-time", text: last ? listTime(last.at) : "" })),
      preview),
    unread ? h("span", { class: "badge", "data-testid": "unread-badge", text: unread > 99 ? "99+" : String(unread) }) : null);
    return li;
  }

  function renderList() {
    const q = el.search.value.trim();
    const nodes = [];
    if (!q || "与机器人私聊".includes(q) || BOT_NAME.includes(q)) {
      nodes.push(chatItem(PRIVATE, {
        testid: "private-chat", avatar: botAvatar(), title: "与机器人私聊",
        empty: state.me ? `以 ${state.me} 的身份私聊 ${BOT_NAME}` : `私聊 ${BOT_NAME}`,
      }));
    }
    nodes.push(h("li", { class: "chat-section", text: "微网格群聊" }));
    const mine = new Set((state.people.get(state.me) || { roles: [] }).roles.map((r) => r.topic));
    for (const g of state.dir.groups) {
      if (q && !g.topic.includes(q) && !g.name.includes(q)) continue;
      const tag = mine.has(g.topic) ? h("span", { class: "tag", text: "我的群" })
        : g.kind === "merchant" ? h("span", { class: "tag merchant", text: "商户" }) : null;
      nodes.push(chatItem(g.topic, { testid: "group-item", avatar: groupAvatar(g), title: g.topic, tag }));
    }
    el.chats.replaceChildren(...nodes);
  }

  function isSmall() { return window.matchMedia("(max-width: 760px)").matches; }

  function openConversation(key) {
    state.active = key;
    remember("gridbot.active", key);
    el.app.classList.add("in-chat");
    el.app.classList.remove("list-only");
    renderAll();
    if (!isSmall()) el.input.focus();
  }

  // ------------------------------------------------------------------ messages

  function renderHeader() {
    if (state.active === PRIVATE) {
      el.title.textContent = `${BOT_NAME}（私聊）`;
      el.subtitle.textContent = state.me ? `以「${state.me}」的身份与机器人私聊` : "请先在上方选择“我是”谁";
      return;
    }
    const g = groupByTopic(state.active);
    const count = g ? g.members.length + 1 : 0;
    el.title.textContent = g ? `${state.active}（${count}）` : state.active || "";
    if (g) {
      const parts = [];
      if (g.comp_grid) parts.push(g.comp_grid);
      const byRole = new Map();
      for (const m of g.members) byRole.set(m.role, [...(byRole.get(m.role) || []), m.name]);
      for (const [role, names] of byRole) parts.push(`${role} ${names.join("、")}`);
      el.subtitle.textContent = parts.join(" · ");
    } else {
      el.subtitle.textContent = "";
    }
  }

  function bubbleText(item) {
    const bubble = h("div", { class: "bubble", "data-testid": item.type === "bot" ? "bot-text" : "message-text" });
    if (item.type === "bot") {
      const names = myNames();
      for (const m of item.mentions || []) {
        bubble.append(h("span", { class: "mention" + (names.has(m) ? " me" : ""), "data-testid": "mention", text: `@${m}` }), " ");
      }
    }
    bubble.append(item.text);
    return bubble;
  }

  function imageBubble(item) {
    const img = h("img", { src: item.image_url, alt: "图片", "data-testid": "message-image", loading: "lazy" });
    img.addEventListener("load", () => { if (stickToBottom) scrollToBottom(); });
    img.addEventListener("click", () => window.open(item.image_url, "_blank", "noopener"));
    return h("div", { class: "bubble image" }, img);
  }

  function messageNode(item) {
    const mine = isMine(item);
    const bot = item.type === "bot";
    const name = bot ? BOT_NAME : item.from;
    const showName = !mine && (bot || !!item.room);
    let status = null;
    if (mine && item.failed) {
      status = h("button", { class: "status failed", type: "button", title: "发送失败，点击重发", "data-testid": "message-failed", text: "!", onclick: () => resend(item.id) });
    } else if (mine && item.pending) {
      status = h("span", { class: "status pending", title: "发送中", "data-testid": "message-pending" });
    }
    const roleTag = bot ? h("span", { class: "role bot", text: "机器人" })
      : item.room && state.people.has(item.from) ? h("span", { class: "role", text: roleLabel(item.from) }) : null;
    return h("div", {
      class: "msg" + (mine ? " mine" : "") + (bot ? " bot" : ""),
      "data-testid": bot ? "bot-message" : mine ? "my-message" : "user-message",
      "data-id": item.id, "data-kind": bot ? item.kind : null, "data-from": bot ? null : item.from,
    },
    bot ? botAvatar() : personAvatar(item.from),
    h("div", { class: "msg-body" },
      showName ? h("div", { class: "msg-name" }, name, roleTag) : null,
      h("div", { class: "msg-row" }, item.image_url ? imageBubble(item) : bubbleText(item), status)));
  }

  let stickToBottom = true;

  function scrollToBottom() { el.messages.scrollTop = el.messages.scrollHeight; }

  function renderMessages() {
    const key = activeKey();
    const list = state.items.filter((it) => convOf(it) === key);
    const nodes = [];
    let prevTime = null;
    let prevDay = "";
    for (const it of list) {
      const t = Date.parse(it.at);
      if (prevTime === null || !(t - prevTime < GAP_MS) || dayOf(it.at) !== prevDay) {
        nodes.push(h("div", { class: "time-sep", "data-testid": "time-separator", text: timeLabel(it.at) }));
      }
      prevTime = t;
      prevDay = dayOf(it.at);
      nodes.push(messageNode(it));
    }
    if (!list.length) nodes.push(emptyHint());
    el.messages.replaceChildren(...nodes);
    if (stickToBottom) scrollToBottom();
    if (!el.app.classList.contains("list-only")) state.lastRead.set(key, state.seq);
  }

  function emptyHint() {
    if (state.active === PRIVATE) {
      return h("div", { class: "empty" },
        h("b", { text: "与机器人私聊" }), h("br"),
        "网格长、督办人可以在这里查询和处理事项，例如发送“我的事项”“帮助”。");
    }
    return h("div", { class: "empty" },
      h("b", { text: "群里还没有消息" }), h("br"),
      "网格长可以发“今日巡查无异常，零报告”；居民可以说说遇到的问题，比如“3号楼2单元楼道灯坏了”。");
  }

  function renderAll() {
    el.app.classList.toggle("no-me", !state.me);
    renderHeader();
    renderMessages();
    renderList();
    el.send.disabled = false;
  }

  function addItem(item, { fromHistory } = {}) {
    const existing = state.byId.get(item.id);
    if (existing) {
      Object.assign(existing, item, { seq: existing.seq });
      if (item.type === "message" && !item.local) existing.local = false;
      return existing;
    }
    state.seq += 1;
    const stored = Object.assign({}, item, { seq: state.seq });
    state.items.push(stored);
    state.byId.set(stored.id, stored);
    if (fromHistory) state.loadedSeq = state.seq;
    return stored;
  }

  // ------------------------------------------------------------------ sending

  function currentRoom() { return state.active === PRIVATE ? null : state.active; }

  function requireMe() {
    if (state.me) return true;
    showToast("请先在上方选择“我是”谁");
    el.identity.focus();
    return false;
  }

  function sendText() {
    const text = el.input.value;
    if (!text.trim()) return;
    if (!requireMe() || !state.active) return;
    if (text.length > 20000) { showToast("消息太长（最多 20000 个字）"); return; }
    queue({ type: "send", id: newId(), room: currentRoom(), as: state.me, text });
    el.input.value = "";
    autosize();
  }

  function sendImage(file) {
    if (!requireMe() || !state.active) return;
    if (!IMAGE_TYPES.includes(file.type)) { showToast("只支持 PNG、JPEG、GIF、WebP 图片"); return; }
    if (file.size > MAX_IMAGE) { showToast("图片太大，不能超过 5 MB"); return; }
    const reader = new FileReader();
    reader.onload = () => queue({ type: "send", id: newId(), room: currentRoom(), as: state.me, text: "", image: reader.result });
    reader.onerror = () => showToast("读取图片失败");
    reader.readAsDataURL(file);
  }

  function queue(frame) {
    state.outgoing.set(frame.id, frame);
    addItem({
      type: "message", id: frame.id, room: frame.room, from: frame.as, text: frame.image ? "[图片]" : frame.text,
      at: shanghaiNow(), image_url: frame.image || undefined, pending: true, local: true,
    });
    stickToBottom = true;
    renderAll();
    transmit(frame);
  }

  function transmit(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(frame));
  }

  function resend(id) {
    const frame = state.outgoing.get(id);
    const item = state.byId.get(id);
    if (!frame || !item) return;
    item.failed = false;
    item.pending = true;
    renderAll();
    transmit(frame);
  }

  // ------------------------------------------------------------------ connection

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws`);
    state.ws = ws;
    ws.onopen = () => {
      state.retry = 0;
      state.everConnected = true;
      el.banner.hidden = true;
      el.conn.className = "conn online";
      el.conn.title = "已连接";
    };
    ws.onmessage = (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      onFrame(frame);
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      el.conn.className = "conn offline";
      el.conn.title = "连接已断开";
      el.banner.hidden = false;
      const delay = Math.min(5000, 400 * 2 ** state.retry) + Math.random() * 300;
      state.retry = Math.min(state.retry + 1, 6);
      setTimeout(connect, delay);
    };
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "history": {
        const pending = [...state.outgoing.values()];
        const keepLocal = state.items.filter((it) => it.local && state.outgoing.has(it.id));
        state.items = [];
        state.byId.clear();
        state.seq = 0;
        for (const item of frame.items || []) addItem(item, { fromHistory: true });
        for (const item of keepLocal) if (!state.byId.has(item.id)) addItem(item);
        renderAll();
        for (const f of pending) transmit(f);  // unacknowledged: the server dedupes by id
        if (state.everConnected) loadDirectory();
        break;
      }
      case "message": {
        const existing = state.byId.get(frame.id);
        const pending = state.outgoing.has(frame.id);
        addItem(Object.assign({}, frame, { pending, local: false, image_url: frame.image_url || (existing && existing.image_url) }));
        noteNew(frame);
        break;
      }
      case "ack": {
        state.outgoing.delete(frame.id);
        const item = state.byId.get(frame.id);
        if (item) { item.pending = false; item.failed = false; }
        renderAll();
        break;
      }
      case "failed": {
        const item = state.byId.get(frame.id);
        if (item) { item.pending = false; item.failed = state.outgoing.has(frame.id); }
        if (state.outgoing.has(frame.id)) showToast(frame.message || "发送失败");
        renderAll();
        break;
      }
      case "bot": {
        addItem(frame);
        noteNew(frame);
        break;
      }
      case "error": {
        if (frame.id && state.outgoing.has(frame.id)) {
          state.outgoing.delete(frame.id);
          const item = state.byId.get(frame.id);
          if (item) { item.pending = false; item.failed = false; item.rejected = true; }
          state.items = state.items.filter((it) => it.id !== frame.id);
          state.byId.delete(frame.id);
        }
        showToast(frame.message || "出错了");
        renderAll();
        break;
      }
      default:
        break;
    }
  }

  function noteNew(frame) {
    const nearBottom = el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight < 80;
    stickToBottom = nearBottom || isMine(frame);
    if (frame.type === "message" && frame.from && !frame.room) {
      // A private message from someone typing in another tab: nothing to do for the list.
    }
    if (frame.type === "message" && frame.room && frame.from && !state.people.has(frame.from) &&
        !state.residents.includes(frame.from)) {
      state.residents.push(frame.from);
      renderIdentity();
    } else if (frame.type === "bot" && frame.chat === "private") {
      renderIdentity();
    }
    renderAll();
  }

  // ------------------------------------------------------------------ toasts, input

  let toastTimer = 0;
  function showToast(text) {
    el.toast.textContent = text;
    el.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { el.toast.hidden = true; }, 4000);
  }

  function autosize() {
    el.input.style.height = "auto";
    el.input.style.height = Math.min(el.input.scrollHeight, 140) + "px";
  }

  el.messages.addEventListener("scroll", () => {
    stickToBottom = el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight < 80;
  });
  el.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      sendText();
    }
  });
  el.input.addEventListener("input", autosize);
  el.send.addEventListener("click", sendText);
  el.attach.addEventListener("click", () => { if (requireMe()) el.file.click(); });
  el.file.addEventListener("change", () => {
    const file = el.file.files && el.file.files[0];
    if (file) sendImage(file);
    el.file.value = "";
  });
  el.back.addEventListener("click", () => {
    el.app.classList.remove("in-chat");
    el.app.classList.add("list-only");
    renderList();
  });
  el.search.addEventListener("input", renderList);
  el.identity.addEventListener("change", () => {
    const value = el.identity.value;
    if (value === NEW_RESIDENT) { openResidentDialog(); return; }
    setMe(value);
  });
  el.residentForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = el.residentName.value.trim();
    if (!name) { el.residentName.focus(); return; }
    el.modal.hidden = true;
    setMe(name);
  });
  el.residentCancel.addEventListener("click", closeResidentDialog);
  el.modal.addEventListener("click", (e) => { if (e.target === el.modal) closeResidentDialog(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !el.modal.hidden) closeResidentDialog(); });

  if (isSmall()) el.input.placeholder = "输入消息";
  if (!isSmall()) el.app.classList.add("in-chat");
  else el.app.classList.add("list-only");
  renderIdentity();
  renderAll();
  loadDirectory();
  connect();
})();
