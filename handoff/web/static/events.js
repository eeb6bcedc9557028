// The Socket.IO events the gateway speaks (handoff/protocol.py spells the same names).
export const SESSION_REQUEST = "session_request";
export const SESSION_CONFIRM = "session_confirm";
export const USER_UTTERED = "user_uttered";
export const BOT_UTTERED = "bot_uttered";
export const SYNC = "sync";
export const HISTORY = "history";
export const CUSTOMER_ECHO = "customer_echo";
export const QUEUE_STATUS = "queue_status";
export const CHAT_ENDED = "chat_ended";
export const RATE = "rate";
export const PROTOCOL_ERROR = "protocol_error";
export const TYPING = "typing";
export const XIAOSHEN_CLIENT = "xiaoshen";  // auth.client: send us the extras, not Rasa's bare shapes

// Tell the other side someone is typing, at most every 2 s while keys are pressed.
export function typingNotifier(send) {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last > 2000) { last = now; send(); }
  };
}

// Show "… 正在输入" in `node` for a few seconds.
export function showTyping(node, text) {
  node.textContent = text;
  clearTimeout(node.typingTimer);
  node.typingTimer = setTimeout(() => { node.textContent = ""; }, 3000);
}

export const SEAT_NAMESPACE = "/seat";
export const CHAT_QUEUED = "chat_queued";
export const CHAT_ASSIGNED = "chat_assigned";
export const ACCEPT = "accept";
export const SEAT_MESSAGE = "seat_message";
export const CUSTOMER_MESSAGE = "customer_message";
export const END_CHAT = "end_chat";
export const QUEUES = "queues";
export const TRANSFER = "transfer";
export const NOTE = "note";
export const INTERNAL_NOTE = "internal_note";
export const TRANSFER_FLAG = "transfer_flag";
export const SEAT_LOADS = "seat_loads";
export const SLA_WARNING = "sla_warning";
export const SLA_BREACH = "sla_breach";
export const FORBIDDEN_ATTEMPT = "forbidden_attempt";
export const PRESENCE = "presence";
export const DEPARTMENTS = "departments";
export const KB_SEARCH = "kb_search";
export const SAVE_CANDIDATE = "save_candidate";
export const MY_CHATS = "my_chats";
export const READ = "read";
export const SESSION_EXPIRED = "session_expired";

// Text from people is always inserted as text, never as HTML.
export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// A message's content: text as text, an image or a voice message as the element showing it.
// A citizen's messages carry a signed link (src); staff load files with their login cookie.
export function content(message) {
  const body = message.title || message.body || message.text || "";
  const source = message.src || body;
  if (message.kind === "image") {
    const image = element("img");
    image.src = source;
    image.alt = "图片消息";
    image.className = "attachment";
    return image;
  }
  if (message.kind === "voice") {
    const audio = element("audio");
    audio.src = source;
    audio.controls = true;
    audio.setAttribute("aria-label", "语音消息");
    return audio;
  }
  return element("p", body);
}

// Upload an image or a recording; the gateway posts it into the conversation.
export async function upload(blob, headers) {
  const response = await fetch("/api/attachments", { method: "POST", headers, body: blob });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error);
  return body;
}

// Record from the microphone until stop() is called; resolves to the recording.
export async function record() {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const recorder = new MediaRecorder(stream);
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  const done = new Promise((resolve) => {
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      resolve(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }));
    };
  });
  recorder.start();
  return { stop: () => { recorder.stop(); return done; } };
}

export function timeOf(iso) {
  return iso ? iso.slice(11, 16) : "";
}
