// The citizen's chat (PC and mobile H5): Rasa's socket protocol through the gateway, with the
// session and the last message id kept, so a reload or a dropped network resumes the
// conversation without losing or repeating a message.
import { io } from "/static/vendor/socket.io.esm.min.js";
import * as ev from "/static/events.js";

const SENDERS = { customer: "我", bot: "小申", seat: "人工帮办", system: "系统" };
const list = document.getElementById("messages");
const replies = document.getElementById("replies");
const status = document.getElementById("status");
const text = document.getElementById("text");
const rating = document.getElementById("rating");
const seen = new Set();
let lastId = 0;  // the last message shown: a reconnect asks for the ones after it
let session = localStorage.getItem("xiaoshen.session");
// Messages sent but not yet echoed back as stored, by their key: after a dropped connection
// or a reload they are sent again, and the gateway stores each key once.
const UNSENT = "xiaoshen.unsent";
const unsent = new Map(JSON.parse(sessionStorage.getItem(UNSENT) || "[]"));
const keepUnsent = () => sessionStorage.setItem(UNSENT, JSON.stringify([...unsent]));
const newKey = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
  (byte) => byte.toString(16).padStart(2, "0")).join("");

const socket = io({ transports: ["websocket", "polling"], auth: { client: ev.XIAOSHEN_CLIENT } });

socket.on("connect", () => {
  status.textContent = "已连接，小申7×24小时为您服务";
  socket.emit(ev.SESSION_REQUEST, { session_id: session });
});
socket.on("disconnect", () => { status.textContent = "网络已断开，正在重新连接…"; });
socket.on(ev.SESSION_CONFIRM, (id) => {
  if (id !== session) { lastId = 0; list.replaceChildren(); seen.clear(); }
  session = id;
  localStorage.setItem("xiaoshen.session", id);
  socket.emit(ev.SYNC, { after: lastId });
});
socket.on(ev.HISTORY, ({ messages }) => {
  messages.forEach(show);
  unsent.forEach(deliver);  // what the server has not stored yet, in the order typed
});
socket.on(ev.BOT_UTTERED, (message) => show(message));
socket.on(ev.CUSTOMER_ECHO, (message) => show(message));
socket.on(ev.QUEUE_STATUS, ({ position, expected_wait_seconds }) => {
  const minutes = Math.max(1, Math.round(expected_wait_seconds / 60));
  status.textContent = `正在为您转接人工帮办：前面还有${position - 1}位，预计等待约${minutes}分钟`;
});
const typing = document.getElementById("typing");
const TYPISTS = { bot: "小申正在输入…", seat: "人工帮办正在输入…" };
socket.on(ev.TYPING, ({ who }) => ev.showTyping(typing, TYPISTS[who] || ""));
text.addEventListener("input", ev.typingNotifier(() => session && socket.emit(ev.TYPING, {})));
socket.on(ev.CHAT_ENDED, () => { rating.hidden = false; status.textContent = "人工服务已结束"; });
socket.on(ev.PROTOCOL_ERROR, ({ error }) => { status.textContent = error; });

function show(message) {
  if (message.key && unsent.delete(message.key)) keepUnsent();
  if (message.id && seen.has(message.id)) return;  // re-sent after a reconnect
  if (message.id) {
    seen.add(message.id);
    lastId = Math.max(lastId, message.id);
  }
  const item = ev.element("li", undefined, `message ${message.sender || "bot"}`);
  item.append(ev.element("span", SENDERS[message.sender] || "小申", "who"));
  item.append(ev.content(message));
  item.append(ev.element("time", ev.timeOf(message.created_at)));
  list.append(item);
  item.scrollIntoView({ block: "end" });
  if (message.sender !== "customer") typing.textContent = "";
  if (message.sender === "customer") return;
  replies.replaceChildren();
  if (message.sender === "seat") status.textContent = "人工帮办正在为您服务";
  for (const reply of message.quick_replies || []) {
    const button = ev.element("button", reply.title);
    button.type = "button";
    button.addEventListener("click", () => send(reply.payload, reply.title));
    replies.append(button);
  }
}

function send(message, title) {
  if (!message.trim() || !session) return;
  const event = { message, key: newKey() };
  if (title && title !== message) event.title = title;
  unsent.set(event.key, event);
  keepUnsent();
  if (socket.connected) deliver(event);
  else status.textContent = "网络已断开，消息将在重新连接后发送";
}

function deliver(event) {
  socket.emit(ev.USER_UTTERED, { ...event, session_id: session });
}

document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  send(text.value);
  text.value = "";
});
text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    document.getElementById("composer").requestSubmit();
  }
});
document.getElementById("human").addEventListener("click", () => send("/request_human", "转人工"));
document.getElementById("image").addEventListener("change", async (event) => {
  const [file] = event.target.files;
  event.target.value = "";
  if (!file) return;
  try { await ev.upload(file, { "x-xiaoshen-session": session }); }
  catch (error) { status.textContent = error.message; }
});
let recording = null;
document.getElementById("voice").addEventListener("click", async (event) => {
  const button = event.currentTarget;
  try {
    if (!recording) {
      recording = await ev.record();
      button.textContent = "停止并发送语音";
      return;
    }
    const blob = await recording.stop();
    recording = null;
    button.textContent = "录制语音";
    await ev.upload(blob, { "x-xiaoshen-session": session });
  } catch (error) { recording = null; button.textContent = "录制语音"; status.textContent = error.message; }
});
document.getElementById("submit-rating").addEventListener("click", () => {
  const chosen = document.querySelector('input[name="level"]:checked');
  if (!chosen) { status.textContent = "请先选择评分"; return; }
  const comment = document.getElementById("comment").value.trim();
  socket.emit(ev.RATE, comment ? { level: Number(chosen.value), comment } : { level: Number(chosen.value) });
  rating.hidden = true;
  status.textContent = "感谢您的评价！";
});
