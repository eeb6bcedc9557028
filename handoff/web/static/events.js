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

export const SEAT_NAMESPACE = "/seat";
export const CHAT_QUEUED = "chat_queued";
export const CHAT_ASSIGNED = "chat_assigned";
export const ACCEPT = "accept";
export const SEAT_MESSAGE = "seat_message";
export const CUSTOMER_MESSAGE = "customer_message";
export const END_CHAT = "end_chat";
export const QUEUES = "queues";

// Text from people is always inserted as text, never as HTML.
export function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function timeOf(iso) {
  return iso ? iso.slice(11, 16) : "";
}
