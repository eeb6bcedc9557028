// The seat console: log in, take chats of the department (assigned automatically or picked
// from the queue with 接入), read the bot history, reply, end the chat.
import { io } from "/static/vendor/socket.io.esm.min.js";
import * as ev from "/static/events.js";

const SENDERS = { customer: "市民", bot: "小申", seat: "坐席", system: "系统", note: "内部备注" };
const status = document.getElementById("status");
const chats = new Map();  // conversation id → {conversation, messages}
let socket = null;
let current = null;
let token = null;
let supervising = false;

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("/api/login", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: document.getElementById("name").value,
                           password: document.getElementById("password").value }),
  });
  const body = await response.json();
  if (!response.ok) { status.textContent = body.error; return; }
  supervising = body.role === "supervisor";
  document.getElementById("who").textContent = supervising ? `${body.name} · 帮办监督`
    : `${body.name} · ${body.department}`;
  // A supervisor watches: no presence of their own, no chats to answer.
  for (const id of ["away-control", "mine-title", "mine"]) document.getElementById(id).hidden = supervising;
  token = body.token;
  connect(body.token);
});

function connect(token) {
  socket = io(ev.SEAT_NAMESPACE, { auth: { token }, transports: ["websocket", "polling"] });
  socket.on("connect", () => {
    document.getElementById("login").hidden = true;
    document.getElementById("desk").hidden = false;
    status.textContent = supervising ? "在线，正在监看队列与坐席" : "在线，等待接入";
  });
  socket.on("connect_error", (error) => { status.textContent = error.message; });
  socket.on(ev.CHAT_QUEUED, () => status.textContent = "有新的会话在排队");
  socket.on(ev.QUEUES, (queues) => showQueue(queues));
  socket.on(ev.CHAT_ASSIGNED, ({ conversation, history }) => {
    chats.set(conversation.id, { conversation, messages: history });
    showMine();
    if (!current) open(conversation.id);  // never switch away from a chat being answered
    status.textContent = "已接入新会话";
  });
  socket.on(ev.CUSTOMER_MESSAGE, (message) => add(message));
  socket.on(ev.INTERNAL_NOTE, (message) => add(message));
  socket.on(ev.TYPING, ({ conversation_id }) => {
    if (conversation_id === current) ev.showTyping(document.getElementById("typing"), "市民正在输入…");
  });
  socket.on(ev.SLA_WARNING, (c) => alert(`会话 ${c.id.slice(0, 6)} 已等待45秒未回复，请尽快响应`));
  socket.on(ev.SLA_BREACH, (c) => alert(`会话 ${c.id.slice(0, 6)} 超过1分钟未首次响应（已记录）`));
  socket.on(ev.TRANSFER_FLAG, (c) => alert(`会话 ${c.id.slice(0, 6)} 已被转接${c.transfers}次，请关注`));
  socket.on(ev.FORBIDDEN_ATTEMPT, (a) => alert(`${a.seat} 的回复含服务禁语“${a.phrase}”，已拦截`));
  socket.on(ev.SEAT_LOADS, (seats) => showSeats(seats));
  socket.on(ev.DEPARTMENTS, (names) => document.getElementById("departments").replaceChildren(
    ...names.map((name) => { const option = ev.element("option"); option.value = name; return option; })));
  socket.on(ev.PROTOCOL_ERROR, ({ error }) => { status.textContent = error; });
}

function alert(text) {
  const item = ev.element("li", `${new Date().toTimeString().slice(0, 5)} ${text}`);
  document.getElementById("alerts").prepend(item);
}

function showSeats(seats) {
  document.getElementById("supervision").hidden = false;
  const STATUS = { online: "在线", away: "离开", offline: "离线" };
  const rows = seats.map((seat) => {
    const row = ev.element("tr");
    for (const cell of [seat.name, seat.department, STATUS[seat.status] || seat.status,
                        `${seat.load}/${seat.capacity}`]) row.append(ev.element("td", cell));
    return row;
  });
  document.getElementById("seats").replaceChildren(...rows);
}

function showQueue(queues) {
  const list = document.getElementById("queue");
  list.replaceChildren();
  for (const waiting of Object.values(queues).flat()) {
    const item = ev.element("li", `${waiting.department} · 等待自 ${ev.timeOf(waiting.escalated_at)}`);
    const button = ev.element("button", "接入");
    button.type = "button";
    button.addEventListener("click", async () => {
      const reply = await socket.emitWithAck(ev.ACCEPT, { conversation_id: waiting.id });
      if (reply.error) status.textContent = reply.error;
    });
    item.append(button);
    list.append(item);
  }
}

function showMine() {
  const list = document.getElementById("mine");
  list.replaceChildren();
  for (const [id, chat] of chats) {
    const button = ev.element("button", `会话 ${id.slice(0, 6)} · ${chat.conversation.department}`);
    button.type = "button";
    button.addEventListener("click", () => open(id));
    const item = ev.element("li");
    item.append(button);
    list.append(item);
  }
}

function showCandidates(candidates) {
  const list = document.getElementById("kb-results");
  list.replaceChildren(...candidates.map((candidate) => {
    const item = ev.element("li");
    const text = ev.element("p", `${candidate.title}：${candidate.answer || ""}`);
    const insert = ev.element("button", "插入");
    insert.type = "button";
    insert.setAttribute("aria-label", `插入：${candidate.title}`);
    insert.addEventListener("click", () => { document.getElementById("reply-text").value = candidate.answer; });
    item.append(text, insert);
    return item;
  }));
}

async function searchKb(query) {
  const chat = chats.get(current);
  const reply = await socket.emitWithAck(ev.KB_SEARCH, { query, item_no: chat?.conversation.item_no ?? null });
  if (reply.error) { status.textContent = reply.error; return; }
  showCandidates(reply.candidates);
}

function lastQuestion(id) {
  const asked = chats.get(id).messages.filter((m) => m.sender === "customer" && !(m.body || "").startsWith("/"));
  return asked.length ? asked[asked.length - 1].body : "";
}

function open(id) {
  current = id;
  document.getElementById("chat").hidden = false;
  document.getElementById("chat-title").textContent = `会话 ${id.slice(0, 6)}`;
  const history = document.getElementById("history");
  history.replaceChildren(...chats.get(id).messages.map(render));
  const question = lastQuestion(id);
  document.getElementById("kb-query").value = question;
  if (question) searchKb(question);  // the bot's best entries for the question, with wording
}

function render(message) {
  const item = ev.element("li", undefined, `message ${message.sender}`);
  if (message.sender === "note") item.setAttribute("aria-label", "内部备注");
  item.append(ev.element("span", SENDERS[message.sender] || message.sender, "who"));
  item.append(ev.content(message, `token=${token}`));
  item.append(ev.element("time", ev.timeOf(message.created_at)));
  return item;
}

// The open chat has left this seat (ended or transferred).
function closeCurrent(notice) {
  chats.delete(current);
  current = null;
  document.getElementById("chat").hidden = true;
  showMine();
  status.textContent = notice;
}

function add(message) {
  const chat = chats.get(message.conversation_id);
  if (!chat) return;
  chat.messages.push(message);
  if (message.conversation_id === current) document.getElementById("history").append(render(message));
}

document.getElementById("reply-text").addEventListener("input", ev.typingNotifier(() => {
  if (current) socket.emit(ev.TYPING, { conversation_id: current });
}));

document.getElementById("reply").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("reply-text");
  if (!current || !box.value.trim()) return;
  const reply = await socket.emitWithAck(ev.SEAT_MESSAGE, { conversation_id: current, text: box.value });
  if (reply.error) { status.textContent = reply.error; return; }
  add({ id: reply.id, conversation_id: current, sender: "seat", body: box.value,
        created_at: reply.created_at });
  box.value = "";
});

document.getElementById("image").addEventListener("change", async (event) => {
  const [file] = event.target.files;
  event.target.value = "";
  if (!file || !current) return;
  try {
    const sent = await ev.upload(file, { authorization: `Bearer ${token}`,
                                         "x-xiaoshen-conversation": current });
    add({ id: sent.id, conversation_id: current, sender: "seat", kind: sent.kind,
          body: sent.url, created_at: sent.created_at });
  } catch (error) { status.textContent = error.message; }
});

document.getElementById("kb-search").addEventListener("submit", (event) => {
  event.preventDefault();
  const query = document.getElementById("kb-query").value.trim();
  if (current && query) searchKb(query);
});

document.getElementById("save-candidate").addEventListener("click", async () => {
  if (!current) return;
  const answers = chats.get(current).messages.filter((m) => m.sender === "seat" && m.kind !== "image");
  if (!answers.length) { status.textContent = "请先回复市民，再保存答复"; return; }
  const reply = await socket.emitWithAck(ev.SAVE_CANDIDATE, {
    conversation_id: current, question: lastQuestion(current) || "（人工帮办问答）",
    answer: answers[answers.length - 1].body });
  status.textContent = reply.error || "已保存为知识库候选，待维护人员审核";
});

document.getElementById("note").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = document.getElementById("note-text");
  if (!current || !box.value.trim()) return;
  const reply = await socket.emitWithAck(ev.NOTE, { conversation_id: current, text: box.value });
  if (reply.error) { status.textContent = reply.error; return; }
  box.value = "";
});

document.getElementById("transfer").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current) return;
  const department = document.getElementById("transfer-department").value.trim();
  const note = document.getElementById("transfer-note").value.trim();
  const reply = await socket.emitWithAck(ev.TRANSFER, { conversation_id: current, department, note });
  if (reply.error) { status.textContent = reply.error; return; }
  closeCurrent(`已转接至${department}`);
});

document.getElementById("away").addEventListener("change", async (event) => {
  const reply = await socket.emitWithAck(ev.PRESENCE, { status: event.target.checked ? "away" : "online" });
  status.textContent = reply.error || (event.target.checked ? "已暂停接入新会话" : "在线，等待接入");
});

document.getElementById("end").addEventListener("click", async () => {
  if (!current) return;
  const resolved = document.getElementById("resolved").checked;
  const reply = await socket.emitWithAck(ev.END_CHAT, { conversation_id: current, resolved });
  if (reply.error) { status.textContent = reply.error; return; }
  closeCurrent("会话已结束");
});
