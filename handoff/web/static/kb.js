// What the knowledge-base pages (entries, review, policies) and the gap tasks share: the
// gateway's JSON API, the login for maintainers and supervisors (login.js), the status line,
// services and departments for the filters, a version's diff as text, and waiting until a
// publish is live for the bot. All data is inserted as text.
import { element, timeOf } from "/static/events.js";
import { $, readJson, request, showLoginForm, staffLogin } from "/static/login.js";

export { $, readJson };

export const moment = (iso) => (iso ? `${iso.slice(0, 10)} ${timeOf(iso)}` : "");

export const REVIEW_NAMES = { draft: "草稿", in_review: "待审核", returned: "已退回",
                              approved: "已发布", superseded: "已被替代" };
export const SOURCE_NAMES = { import: "批量导入", console: "知识库页面", gap_task: "知识缺口任务",
                              seat_candidate: "坐席候选答复", rollback: "回滚" };
export const STATUS_NAMES = { published: "上线", draft: "未发布", retired: "已下线",
                              scheduled: "待生效", expired: "已过期" };

const LIVE_POLL_MS = 1000;
const LIVE_GIVE_UP_MS = 120_000;

export const state = { me: null, items: new Map() };

// -- talking to the gateway -----------------------------------------------------------------

// A request to the gateway (login.js's request); a lost login shows the login form.
export async function api(path, options) {
  const reply = await request(path, options);
  if (reply.status === 401 && state.me) showLogin("登录已失效，请重新登录");
  return reply;
}

let statusTimer = null;

export function setStatus(text, level = "") {
  clearTimeout(statusTimer);
  $("status").textContent = text;
  $("status").className = `status ${level}`;
}

export function notice(text, level = "ok") {
  setStatus(text, level);
  statusTimer = setTimeout(() => setStatus(""), 10_000);
}

// -- login ----------------------------------------------------------------------------------

let started = () => {};
let stopped = () => {};

// Show the page for a maintainer or supervisor: `start(me)` runs after a login, `stop()` when
// the login form is shown again (logged out, or the login lost).
export async function boot(start, stop = () => {}) {
  started = start;
  stopped = stop;
  await staffLogin({ enter, leave: showLogin });
}

function showLogin(reason) {
  state.me = null;
  stopped();
  for (const id of ["work", "refused"]) $(id).hidden = true;
  showLoginForm(reason);
  setStatus(reason || "请登录");
}

async function enter(me) {
  state.me = me;
  $("login").hidden = true;
  $("logout").hidden = false;
  const supervising = me.role === "supervisor";
  $("who").textContent = supervising ? `${me.name} · 督导（全部部门）`
    : `${me.name} · ${me.department || "未设置部门"}`;
  if (!supervising && me.role !== "maintainer") {
    $("refused").hidden = false;
    setStatus("本页面供知识库维护员和督导使用");
    return;
  }
  for (const node of document.querySelectorAll("[data-supervisor]")) node.hidden = !supervising;
  $("work").hidden = false;
  setStatus("");
  await loadItems();
  started(me);
}

// -- services and departments ---------------------------------------------------------------

async function loadItems() {
  const { ok, body } = await api("/api/items");
  if (ok) state.items = new Map(body.items.map((item) => [item.item_no, item]));
}

// Services as options grouped by department, the login's own department first; a maintainer
// sees only their own with `own`.
export function serviceOptions(own = false) {
  const mine = state.me.department;
  return [...state.items.values()]
    .filter((item) => !own || state.me.role === "supervisor" || item.department === mine)
    .sort((a, b) => (b.department === mine) - (a.department === mine)
      || a.department.localeCompare(b.department, "zh") || a.item_no - b.item_no)
    .map((item) => ({ value: String(item.item_no), label: `${item.item_no}. ${item.name}`,
                      group: item.department }));
}

export function departmentOptions() {
  const names = new Set([...state.items.values()].map((item) => item.department));
  return [...names].sort((a, b) => a.localeCompare(b, "zh"))
    .map((name) => ({ value: name, label: name }));
}

export function fillSelect(select, options, keepFirst = true) {
  const first = keepFirst ? select.options[0] : null;
  select.replaceChildren(...(first ? [first] : []));
  for (const { value, label, group } of options) {
    let parent = select;
    if (group) {
      parent = [...select.querySelectorAll("optgroup")].find((g) => g.label === group);
      if (!parent) {
        parent = element("optgroup");
        parent.label = group;
        select.append(parent);
      }
    }
    const option = element("option", label);
    option.value = value;
    parent.append(option);
  }
}

export function serviceName(itemNo) {
  return state.items.get(itemNo)?.name || `事项 ${itemNo}`;
}

// -- diffs ----------------------------------------------------------------------------------

function valueText(value) {
  if (value === null || value === undefined || value === "") return "（空）";
  if (Array.isArray(value)) return value.length ? value.join("\n") : "（无）";
  return String(value);
}

// What a version changed: per field, the removed and added lines (or before → after).
export function changesList(changes, label) {
  const list = element("dl", undefined, "changes");
  list.setAttribute("aria-label", label);
  if (!changes.length) {
    const none = element("div");
    none.append(element("dt", "没有内容变化"), element("dd", ""));
    list.append(none);
    return list;
  }
  for (const change of changes) {
    const wrap = element("div", undefined, "change");
    wrap.append(element("dt", change.name));
    const value = element("dd");
    const lines = change.lines?.filter((line) => !line.startsWith("@@"));
    if (lines?.length) {
      for (const line of lines) {
        const kind = line[0] === "-" ? "del" : line[0] === "+" ? "ins" : "span";
        const shown = element(kind, line.slice(1) || " ", "line");
        if (kind === "del") shown.setAttribute("aria-label", `删除：${line.slice(1)}`);
        if (kind === "ins") shown.setAttribute("aria-label", `新增：${line.slice(1)}`);
        value.append(shown);
      }
    } else {
      value.append(element("del", valueText(change.before), "line"),
                   element("ins", valueText(change.after), "line"));
    }
    wrap.append(value);
    list.append(wrap);
  }
  return list;
}

// -- when a publish is live -----------------------------------------------------------------

const wait = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

// Say in `node` when the bot answers from `revision` (the base's revision after a publish):
// polls /api/kb/status until its live_revision reaches it. `scheduled`: the first day the
// entry is served, when that is in the future.
export async function showLive(node, revision, scheduled = null) {
  node.hidden = false;
  node.className = "live pending";
  node.textContent = "已发布，小申正在更新知识库…";
  const deadline = Date.now() + LIVE_GIVE_UP_MS;
  while (Date.now() < deadline) {
    const { ok, body } = await api("/api/kb/status");
    if (!ok && body.error && !/暂时/.test(body.error)) break;
    if (ok && body.live_revision >= revision) {
      const now = new Date().toLocaleTimeString("zh-CN", { hour12: false });
      node.className = "live done";
      node.textContent = scheduled
        ? `已进入小申的知识库（${now}），将于 ${scheduled} 起答复市民`
        : `已生效：小申已按新口径答复（${now}）`;
      return true;
    }
    await wait(LIVE_POLL_MS);
  }
  node.className = "live late";
  node.textContent = "已发布，但暂时无法确认小申是否已按新口径答复，请稍后刷新查看";
  return false;
}
