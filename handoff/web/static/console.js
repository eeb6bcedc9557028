// The seat console, as a seat uses it all day: log in once (an HttpOnly cookie keeps the
// login across reloads), see every chat held with its service, last message, waiting time,
// first-reply countdown and unread count; answer in the middle; the bot's suggestions, the
// knowledge base, notes, transfer and end on the right. Supervisors watch queues and loads.
import { io } from "/static/vendor/socket.io.esm.min.js";
import * as ev from "/static/events.js";
import { $, showLoginForm, staffLogin } from "/static/login.js";

const TITLE = document.title;
const OPEN_KEY = "xiaoshen.console.open";  // the chat open before a reload (this tab only)
const URGENT_MS = 15_000;  // the countdown turns red
const ACK_MS = 10_000;
const MAX_ALERTS = 50;
const PRESENCE_NAMES = { online: "在线", away: "暂时离开", offline: "离线" };

// What the page knows. chats: conversation id → {conversation, messages, unread, draft,
// answers: entry id → answer wording}. queues: department → waiting conversations.
const state = {
  me: null, socket: null, chats: new Map(), current: null, queues: {}, accepting: null,
  presence: "online",
};

// -- login (login.js) -----------------------------------------------------------------------

$("logout").addEventListener("click", () => sessionStorage.removeItem(OPEN_KEY));

// Back to the login form, with the reason (expired, logged out, refused); nothing kept.
function showLogin(reason) {
  if (state.socket) {
    state.socket.off();
    state.socket.disconnect();
    state.socket = null;
  }
  Object.assign(state, { me: null, chats: new Map(), current: null, queues: {}, accepting: null });
  document.body.classList.remove("supervising");
  document.title = TITLE;
  $("desk").hidden = true;
  showLoginForm(reason);
  setStatus(reason || "请登录");
}

function start(me) {
  state.me = me;
  const supervising = me.role === "supervisor";
  document.body.classList.toggle("supervising", supervising);
  $("who").textContent = supervising ? `${me.name} · 帮办监督` : `${me.name} · ${me.department}`;
  $("login").hidden = true;
  $("desk").hidden = false;
  $("logout").hidden = false;
  $("supervision").hidden = !supervising;
  $("no-chat").hidden = supervising;
  showChat(null);
  setStatus("正在连接…");
  connect();
}

let statusTimer = null;

function setStatus(text) {
  clearTimeout(statusTimer);
  $("status").textContent = text;
}

// A passing notice: the status line shows the seat's state again after a while.
function notice(text) {
  setStatus(text);
  statusTimer = setTimeout(() => { if (state.socket?.connected) setStatus(onlineStatus()); }, 8000);
}

// The gateway's clock zone (its timestamps end in +08:00), so the times shown are its times.
let serverOffset = null;  // minutes east of UTC

function learnZone(iso) {
  const zone = /([+-])(\d\d):(\d\d)$/.exec(iso || "");
  if (zone) serverOffset = (zone[1] === "-" ? -1 : 1) * (Number(zone[2]) * 60 + Number(zone[3]));
}

function clockNow() {
  if (serverOffset === null) return new Date().toTimeString().slice(0, 5);
  return new Date(Date.now() + serverOffset * 60_000).toISOString().slice(11, 16);
}

function onlineStatus() {
  if (state.me?.role === "supervisor") return "在线，正在监看队列与坐席";
  return state.presence === "away" ? "暂时离开，不接新会话" : "在线，等待接入";
}

// -- the socket -----------------------------------------------------------------------------

function connect() {
  const socket = io(ev.SEAT_NAMESPACE, { transports: ["websocket", "polling"] });
  state.socket = socket;
  socket.on("connect", () => setStatus(onlineStatus()));
  socket.on("disconnect", async (reason) => {
    if (reason === "io client disconnect") return;
    setStatus("连接中断，正在重新连接…");
    if (reason !== "io server disconnect") return;  // the client reconnects by itself
    const me = await fetch("/api/me").catch(() => null);
    if (me && me.status === 401) showLogin("登录已失效，请重新登录");
    else if (state.socket === socket) socket.connect();
  });
  socket.on("connect_error", (error) => {
    if (socket.active) setStatus("无法连接帮办服务，正在重试…");
    else showLogin(error.message || "登录已失效，请重新登录");  // refused by the gateway
  });
  socket.on(ev.SESSION_EXPIRED, ({ error } = {}) => showLogin(error || "登录已失效，请重新登录"));
  socket.on(ev.PROTOCOL_ERROR, ({ error } = {}) => setStatus(error));
  socket.on(ev.DEPARTMENTS, showDepartments);
  socket.on(ev.QUEUES, (queues) => { Object.assign(state.queues, queues); showQueues(); });
  socket.on(ev.CHAT_QUEUED, () => notice("有新的会话在排队"));
  socket.on(ev.MY_CHATS, restore);
  socket.on(ev.CHAT_ASSIGNED, assigned);
  socket.on(ev.CUSTOMER_MESSAGE, add);
  socket.on(ev.INTERNAL_NOTE, add);
  socket.on(ev.TYPING, ({ conversation_id }) => {
    if (conversation_id && conversation_id === state.current) {
      ev.showTyping($("typing"), "市民正在输入…");
    }
  });
  socket.on(ev.SLA_WARNING, (c) => {
    update(c);
    alert(`${known(c)}首次响应即将超时，请尽快回复`);
  });
  socket.on(ev.SLA_BREACH, (c) => {
    update(c);
    alert(`${known(c)}首次响应已超时（已记录）`, "late");
  });
  socket.on(ev.TRANSFER_FLAG, (c) => alert(`${known(c)}已被转接${c.transfers}次，请关注`));
  socket.on(ev.FORBIDDEN_ATTEMPT, (a) => alert(`${a.seat} 的回复含服务禁语“${a.phrase}”，已拦截`, "late"));
  socket.on(ev.SEAT_LOADS, showSeats);
}

// An event with an answer; a lost connection answers with an error instead of hanging.
async function request(name, data) {
  try {
    return await state.socket.timeout(ACK_MS).emitWithAck(name, data);
  } catch {
    return { error: "网络不稳定，操作未完成，请稍后再试" };
  }
}

// -- chats held by this seat ----------------------------------------------------------------

const short = (id) => (id || "").slice(0, 6);
const nameOf = (c) => c.service || c.department || "未分类事项";

// A chat named in an alert: by its service as the list shows it, and whose it is.
function known(c) {
  const mine = state.chats.get(c.id)?.conversation;
  const waiting = queued().find((q) => q.id === c.id);
  const name = nameOf({ ...c, service: c.service || mine?.service || waiting?.service });
  return `${mine ? "我的会话" : waiting ? "排队" : "会话"} · ${name}（${short(c.id)}）`;
}

function held({ conversation, history, unread }) {
  const before = state.chats.get(conversation.id);
  return { conversation, messages: history || [], unread: unread || 0,
           draft: before?.draft || "", answers: before?.answers || new Map() };
}

// On every connect (a reload, a dropped network, a restarted gateway): what the seat holds.
function restore({ chats = [], presence } = {}) {
  chats.forEach((chat) => learnZone(chat.conversation.escalated_at));
  state.chats = new Map(chats.map((chat) => [chat.conversation.id, held(chat)]));
  if (presence) showPresence(presence);
  const wanted = state.current || sessionStorage.getItem(OPEN_KEY);
  showMine();
  if (wanted && state.chats.has(wanted)) open(wanted);
  else { showChat(null); sessionStorage.removeItem(OPEN_KEY); }
}

function assigned(chat) {
  const id = chat.conversation.id;
  learnZone(chat.conversation.escalated_at);
  state.chats.set(id, held(chat));
  showMine();
  // never switch away from a chat being answered, unless the seat asked for this one
  if (state.accepting === id || !state.current) open(id);
  state.accepting = null;
  notice(`已接入新会话：${nameOf(chat.conversation)}`);
}

function update(conversation) {
  const chat = state.chats.get(conversation.id);
  if (!chat) return;
  Object.assign(chat.conversation, conversation);
  showMine();
  if (conversation.id === state.current) showHeader(chat);
}

function add(message) {
  const chat = state.chats.get(message.conversation_id);
  if (!chat) return;
  if (message.id != null && chat.messages.some((m) => m.id === message.id)) return;
  chat.messages.push(message);
  if (message.sender !== "note") {
    chat.conversation.last_message = { sender: message.sender, author: message.author,
                                       body: message.body, kind: message.kind,
                                       created_at: message.created_at };
  }
  const open = message.conversation_id === state.current;
  if (open) appendMessage(message);
  if (message.sender === "customer") {
    if (open && document.visibilityState === "visible") markRead(message.conversation_id);
    else chat.unread += 1;
  }
  showMine();
}

function markRead(id) {
  const chat = state.chats.get(id);
  const ids = chat.messages.map((m) => m.id).filter(Number.isInteger);
  chat.unread = 0;
  if (ids.length) state.socket?.emit(ev.READ, { conversation_id: id, last_id: Math.max(...ids) });
}

// The seat answered (text or image): the first-reply clock stops.
function replied(id, at) {
  const chat = state.chats.get(id);
  if (!chat || chat.conversation.first_reply_at) return;
  Object.assign(chat.conversation, { first_reply_at: at, sla_deadline: null });
}

// The chat left this seat (ended or transferred).
function release(id, text) {
  state.chats.delete(id);
  if (state.current === id) { showChat(null); sessionStorage.removeItem(OPEN_KEY); }
  showMine();
  notice(text);
}

// -- the chat list, the queue, alerts, loads ------------------------------------------------

function duration(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}秒`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}分${String(seconds % 60).padStart(2, "0")}秒`;
  return `${Math.floor(minutes / 60)}小时${String(minutes % 60).padStart(2, "0")}分`;
}

// Waiting time since the chat came to a person, and the first-reply countdown.
function clocks(conversation, now = Date.now()) {
  const since = Date.parse(conversation.escalated_at);
  const waited = Number.isNaN(since) ? ""
    : `${conversation.first_reply_at ? "历时" : "已等待"} ${duration(now - since)}`;
  const deadline = Date.parse(conversation.sla_deadline);
  if (conversation.first_reply_at || Number.isNaN(deadline)) return { waited, sla: "", level: "" };
  const left = deadline - now;
  if (left <= 0 || conversation.breached_at) return { waited, sla: "已超时", level: "late" };
  return { waited, sla: `首次响应剩余 ${duration(left)}`,
           level: left < URGENT_MS ? "urgent" : "running" };
}

function showClock(node, conversation, now = Date.now()) {
  const { waited, sla, level } = clocks(conversation, now);
  node.querySelector(".waited").textContent = waited;
  const pill = node.querySelector(".sla");
  pill.textContent = sla;
  pill.className = `sla ${level}`;
}

function lastLine(conversation) {
  const last = conversation.last_message;
  if (!last) return "（暂无消息）";
  const mine = last.sender === "seat" && last.author && last.author === state.me?.name;
  const who = mine ? "我"
    : { customer: "市民", bot: "小申", seat: "坐席", system: "系统" }[last.sender] || "";
  const what = last.kind === "image" ? "[图片]" : last.kind === "voice" ? "[语音]"
    : (last.body || "").replace(/\s+/g, " ");
  const text = what.length > 40 ? `${what.slice(0, 40)}…` : what;
  return who ? `${who}：${text}` : text;
}

function showMine() {
  showQueues();
  const list = $("mine");
  const items = [...state.chats.values()].map(({ conversation: c, unread }) => {
    const button = ev.element("button", undefined, "chat-item");
    button.type = "button";
    button.dataset.id = c.id;
    button.setAttribute("aria-label",
                        `${nameOf(c)}，会话 ${short(c.id)}${unread ? `，${unread}条未读` : ""}`);
    button.setAttribute("aria-describedby", `last-${c.id}`);
    if (c.id === state.current) button.setAttribute("aria-current", "true");
    const last = ev.element("span", lastLine(c), "last");
    last.id = `last-${c.id}`;
    const when = ev.element("span", `${short(c.id)} · `, "when");
    when.append(ev.element("span", "", "waited"));
    const foot = ev.element("span", undefined, "foot");
    foot.append(when, ev.element("span", "", "sla"));
    button.append(ev.element("span", nameOf(c), "service"),
                  ev.element("span", unread ? String(unread) : "", "badge"), last, foot);
    showClock(button, c);
    button.addEventListener("click", () => open(c.id));
    const item = ev.element("li");
    item.append(button);
    return item;
  });
  list.replaceChildren(...items);
  $("mine-count").textContent = state.chats.size ? `${state.chats.size}` : "";
  const unread = [...state.chats.values()].reduce((sum, chat) => sum + chat.unread, 0);
  document.title = unread ? `（${unread}条未读）${TITLE}` : TITLE;
}

function queued() {
  return Object.values(state.queues).flat();
}

function showQueues() {
  const supervising = state.me?.role === "supervisor";
  const waiting = queued()
    .filter((c) => !state.chats.has(c.id))  // the queue may be told a moment after assignment
    .sort((a, b) => (a.escalated_at || "").localeCompare(b.escalated_at || ""));
  waiting.forEach((c) => learnZone(c.escalated_at));
  $("queue").replaceChildren(...waiting.map((c) => {
    const item = ev.element("li");
    item.dataset.id = c.id;
    const what = ev.element("div", undefined, "what");
    const when = ev.element("span", "", "when");
    when.append(ev.element("span", "", "waited"), ev.element("span", "", "sla"));
    what.append(ev.element("span", supervising ? `${c.department} · ${c.service || "未指明事项"}`
                                                : nameOf(c)), when);
    item.append(what);
    if (!supervising) {
      const button = ev.element("button", "接入");
      button.type = "button";
      button.setAttribute("aria-label", `接入：${nameOf(c)}（编号 ${short(c.id)}）`);
      button.addEventListener("click", () => accept(c.id));
      item.append(button);
    }
    return item;
  }));
  $("queue-count").textContent = waiting.length ? `${waiting.length}` : "";
  tick();
}

async function accept(id) {
  state.accepting = id;
  const reply = await request(ev.ACCEPT, { conversation_id: id });
  if (reply.error) { state.accepting = null; setStatus(reply.error); }
}

function alert(text, level = "") {
  const item = ev.element("li", undefined, level);
  item.append(ev.element("time", clockNow()), text);
  const list = $("alerts");
  list.prepend(item);
  while (list.children.length > MAX_ALERTS) list.lastChild.remove();
}

function showSeats(seats) {
  $("seats").replaceChildren(...seats.map((seat) => {
    const row = ev.element("tr");
    row.append(ev.element("td", seat.name), ev.element("td", seat.department || ""),
               ev.element("td", PRESENCE_NAMES[seat.status] || seat.status, seat.status),
               ev.element("td", `${seat.load}/${seat.capacity}`));
    return row;
  }));
}

function showDepartments(names) {
  $("departments").replaceChildren(...names.map((name) => {
    const option = ev.element("option");
    option.value = name;
    return option;
  }));
}

function showPresence(status) {
  state.presence = status === "away" ? "away" : "online";
  for (const radio of document.querySelectorAll("input[name=presence]")) {
    radio.checked = radio.value === state.presence;
  }
}

for (const radio of document.querySelectorAll("input[name=presence]")) {
  radio.addEventListener("change", async () => {
    const before = state.presence;
    const reply = await request(ev.PRESENCE, { status: radio.value });
    if (reply.error) { showPresence(before); setStatus(reply.error); return; }
    showPresence(radio.value);
    notice(onlineStatus());
  });
}

// Every second: waiting times and countdowns, in the list, the queue and the open chat.
function tick() {
  const now = Date.now();
  for (const button of $("mine").querySelectorAll("button.chat-item")) {
    const chat = state.chats.get(button.dataset.id);
    if (chat) showClock(button, chat.conversation, now);
  }
  const waiting = new Map(queued().map((c) => [c.id, c]));
  for (const item of $("queue").children) {
    const c = waiting.get(item.dataset.id);
    if (c) showClock(item, { ...c, first_reply_at: null }, now);
  }
  const chat = state.chats.get(state.current);
  if (chat) showClock($("chat-clock"), chat.conversation);
}
setInterval(tick, 1000);

// -- the open conversation ------------------------------------------------------------------

const SENDERS = { customer: "市民", bot: "小申", system: "系统" };

function author(message) {
  if (message.sender === "seat") {
    return !message.author || message.author === state.me?.name ? "我" : `坐席 ${message.author}`;
  }
  if (message.sender === "note") return `内部备注${message.author ? ` · ${message.author}` : ""}`;
  return SENDERS[message.sender] || message.sender;
}

function render(message) {
  const item = ev.element("li", undefined, `message ${message.sender}`);
  if (message.sender === "note") item.setAttribute("aria-label", "内部备注");
  if (message.sender !== "system") {
    item.append(ev.element("span", author(message), "who"),
                ev.element("time", ev.timeOf(message.created_at)));
  }
  const shown = ev.content(message);
  if (shown.tagName === "IMG") shown.addEventListener("load", () => stickToBottom(true));
  item.append(shown);
  const options = (message.buttons || []).filter((b) => b && b.title);
  if (options.length) {
    const row = ev.element("div", undefined, "options");
    row.setAttribute("aria-label", "小申给出的选项");
    row.append(...options.map((b) => ev.element("span", b.title)));
    item.append(row);
  }
  return item;
}

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
}

function stickToBottom(onlyIfNear) {
  const list = $("history");
  if (!onlyIfNear || nearBottom(list)) list.scrollTop = list.scrollHeight;
}

function appendMessage(message) {
  const list = $("history");
  const follow = nearBottom(list) || message.sender === "seat" || message.sender === "note";
  list.append(render(message));
  if (follow) list.scrollTop = list.scrollHeight;
}

function showHeader(chat) {
  const c = chat.conversation;
  $("chat-title").textContent = nameOf(c);
  $("chat-meta").textContent = [c.service ? c.department : "", `市民编号 ${short(c.id)}`,
                                c.item_no ? `事项编号 ${c.item_no}` : ""]
    .filter(Boolean).join(" · ");
  $("chat-clock").replaceChildren(ev.element("span", "", "waited"), ev.element("span", "", "sla"));
  showClock($("chat-clock"), c);
}

// Show a chat in the middle (or none); the side panel follows.
function showChat(id) {
  const previous = state.chats.get(state.current);
  if (previous && state.current !== id) previous.draft = $("reply-text").value;
  state.current = id;
  const chat = state.chats.get(id);
  const supervising = state.me?.role === "supervisor";
  $("chat").hidden = !chat;
  $("no-chat").hidden = Boolean(chat) || supervising;
  for (const tool of document.querySelectorAll("#tools .tool:not(.kb)")) tool.inert = !chat;
  if (!chat) {
    $("reply-text").value = "";
    $("suggestions").replaceChildren();
  }
}

function open(id) {
  const chat = state.chats.get(id);
  if (!chat) return;
  const switching = state.current !== id;
  showChat(id);
  sessionStorage.setItem(OPEN_KEY, id);
  if (switching) $("reply-text").value = chat.draft;
  showHeader(chat);
  $("typing").textContent = "";
  $("history").replaceChildren(...chat.messages.map(render));
  stickToBottom(false);
  if (document.visibilityState === "visible") markRead(id);
  showMine();
  showSuggestions(chat);
  if (switching) {
    const question = lastQuestion(chat);
    $("kb-query").value = question;
    if (question) searchKb(question);  // the base's wording for what was asked
    else $("kb-results").replaceChildren();
    $("reply-text").focus();
  }
}

document.addEventListener("visibilitychange", () => {
  const chat = state.chats.get(state.current);
  if (document.visibilityState === "visible" && chat?.unread) { markRead(state.current); showMine(); }
});

// What the citizen asked: their latest words to the seat, else the question the bot last
// tried to answer (not "转人工"), else their latest text.
function lastQuestion(chat) {
  const words = (m) => m.sender === "customer" && (m.kind || "text") === "text"
    && !(m.body || "").startsWith("/");
  const since = chat.conversation.escalated_at || "";
  const messages = chat.messages;
  let asked = messages.filter((m) => words(m) && (m.created_at || "") > since);
  if (!asked.length) {
    const answered = messages.findLastIndex((m) => m.sender === "bot" && (m.candidates || []).length);
    asked = messages.slice(0, Math.max(answered, 0)).filter(words);
  }
  if (!asked.length) asked = messages.filter(words);
  return asked.length ? asked[asked.length - 1].body.slice(0, 500) : "";
}

// -- the side panel: the bot's candidates and the knowledge base ----------------------------

function insert(text) {
  const box = $("reply-text");
  box.focus();
  box.setRangeText(text, box.selectionStart, box.selectionEnd, "end");
}

function entry(title, answer, onInsert) {
  const item = ev.element("li");
  item.append(ev.element("p", title, "title"));
  const actions = ev.element("div", undefined, "actions");
  const button = ev.element("button", "插入");
  button.type = "button";
  button.className = "secondary";
  button.setAttribute("aria-label", `插入：${title}`);
  button.addEventListener("click", onInsert);
  actions.append(button);
  item.append(actions);
  if (answer) {
    const wording = ev.element("p", answer, "answer");
    item.append(wording);
    if (answer.length > 60) {
      const more = ev.element("button", "展开", "link");
      more.type = "button";
      more.setAttribute("aria-expanded", "false");
      more.setAttribute("aria-label", `展开：${title}`);
      more.addEventListener("click", () => {
        const opened = item.classList.toggle("open");
        more.textContent = opened ? "收起" : "展开";
        more.setAttribute("aria-expanded", String(opened));
      });
      actions.prepend(more);
    }
  }
  return item;
}

// 小申推荐: the candidates of the bot's last reply; their wording from the base.
function showSuggestions(chat) {
  const lastBot = [...chat.messages].reverse()
    .find((m) => m.sender === "bot" && (m.candidates || []).length);
  const candidates = lastBot ? lastBot.candidates : [];
  $("suggestions").replaceChildren(...candidates.map((candidate) => entry(
    candidate.title, chat.answers.get(candidate.entry_id),
    () => insertCandidate(chat, candidate))));
}

async function insertCandidate(chat, candidate) {
  let answer = chat.answers.get(candidate.entry_id);
  if (!answer) {
    const found = await lookUp(candidate.title, candidate.item_no ?? chat.conversation.item_no);
    const same = found.find((c) => c.entry_id === candidate.entry_id) || found[0];
    answer = same?.answer;
  }
  if (answer) insert(answer);
  else setStatus("没有找到这条推荐的答复口径，请在知识库中搜索");
}

async function lookUp(query, itemNo) {
  const reply = await request(ev.KB_SEARCH, { query, item_no: itemNo ?? null });
  if (reply.error) { setStatus(reply.error); return []; }
  const chat = state.chats.get(state.current);
  for (const found of reply.candidates) {
    if (chat && found.entry_id && found.answer) chat.answers.set(found.entry_id, found.answer);
  }
  return reply.candidates;
}

async function searchKb(query) {
  const chat = state.chats.get(state.current);
  const found = await lookUp(query, chat?.conversation.item_no);
  $("kb-results").replaceChildren(...found.map((candidate) => entry(
    candidate.title, candidate.answer, () => insert(candidate.answer || ""))));
  if (chat && chat === state.chats.get(state.current)) showSuggestions(chat);
}

$("kb-search").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = $("kb-query").value.trim();
  if (query) searchKb(query);
});

$("save-candidate").addEventListener("click", async () => {
  const chat = state.chats.get(state.current);
  if (!chat) { setStatus("请先打开一个会话"); return; }
  const answers = chat.messages.filter((m) => m.sender === "seat" && (m.kind || "text") === "text");
  if (!answers.length) { setStatus("请先回复市民，再保存答复"); return; }
  const reply = await request(ev.SAVE_CANDIDATE, {
    conversation_id: state.current, question: lastQuestion(chat) || "（人工帮办问答）",
    answer: answers[answers.length - 1].body });
  if (reply.error) setStatus(reply.error);
  else notice("已保存为知识库候选，待维护人员审核");
});

// -- replying -------------------------------------------------------------------------------

async function send() {
  const box = $("reply-text");
  const id = state.current;
  const text = box.value;
  if (!id || !text.trim()) return;
  box.value = "";
  const reply = await request(ev.SEAT_MESSAGE, { conversation_id: id, text });
  if (reply.error) {
    if (state.current === id && !box.value) box.value = text;  // to correct and send again
    setStatus(reply.error);
    return;
  }
  add({ id: reply.id, conversation_id: id, sender: "seat", author: state.me?.name, kind: "text",
        body: text, created_at: reply.created_at });
  replied(id, reply.created_at);
  showMine();
}

$("reply").addEventListener("submit", (event) => { event.preventDefault(); send(); });

$("reply-text").addEventListener("keydown", (event) => {
  // Enter sends; Shift+Enter breaks the line; Enter that ends an IME composition only commits
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  event.preventDefault();
  send();
});

$("reply-text").addEventListener("input", ev.typingNotifier(() => {
  if (state.current) state.socket?.emit(ev.TYPING, { conversation_id: state.current });
}));

$("image").addEventListener("change", async (event) => {
  const [file] = event.target.files;
  event.target.value = "";
  const id = state.current;
  if (!file || !id) return;
  try {
    const sent = await ev.upload(file, { "x-xiaoshen-conversation": id });
    add({ id: sent.message_id, conversation_id: id, sender: "seat", author: state.me?.name,
          kind: sent.kind, body: sent.url, created_at: sent.created_at });
    replied(id, sent.created_at);
    showMine();
  } catch (error) { setStatus(error.message || "图片未能发送，请稍后再试"); }
});

$("note").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = $("note-text");
  const id = state.current;
  if (!id || !box.value.trim()) return;
  const reply = await request(ev.NOTE, { conversation_id: id, text: box.value });
  if (reply.error) { setStatus(reply.error); return; }
  add({ id: reply.id, conversation_id: id, sender: "note", author: state.me?.name,
        kind: "text", body: box.value, created_at: reply.created_at });
  box.value = "";
});

$("transfer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const id = state.current;
  if (!id) return;
  const department = $("transfer-department").value.trim();
  const note = $("transfer-note").value.trim();
  const reply = await request(ev.TRANSFER, { conversation_id: id, department, note });
  if (reply.error) { setStatus(reply.error); return; }
  $("transfer-department").value = "";
  $("transfer-note").value = "";
  release(id, `已转接至${department}`);
});

$("end").addEventListener("click", async () => {
  const id = state.current;
  if (!id) return;
  const resolved = $("resolved").checked;
  const reply = await request(ev.END_CHAT, { conversation_id: id, resolved });
  if (reply.error) { setStatus(reply.error); return; }
  $("resolved").checked = true;
  release(id, "会话已结束");
});

staffLogin({ enter: start, leave: showLogin });
