// The review queue: changes waiting for review with their source (knowledge-base page,
// import, gap task, seat candidate), who made them and why, and what they change against the
// published version. Someone other than the author approves (通过: published, and the page
// says when the bot answers with it) or returns it with a comment (退回). The author's own
// changes carry no 通过 (the server refuses it too).
import { element } from "/static/events.js";
import {
  $, SOURCE_NAMES, api, boot, changesList, departmentOptions, fillSelect, moment, notice,
  serviceName, setStatus, showLive, state,
} from "/static/kb.js";

async function loadQueue() {
  const department = state.me.role === "supervisor" ? $("filter-department").value : "";
  const { ok, body } = await api(`/api/kb/review${department
    ? `?department=${encodeURIComponent(department)}` : ""}`);
  if (!ok) { setStatus(body.error || "审核队列加载失败", "error"); return; }
  $("queue-count").textContent = body.total > body.changes.length
    ? `共 ${body.total} 项，先显示最早的 ${body.changes.length} 项` : `${body.total} 项`;
  $("queue").replaceChildren(...body.changes.map(card));
}

function card(change) {
  const li = element("li", undefined, "card");
  const titleId = `change-${change.entry_id}-${change.version}`;
  li.setAttribute("aria-labelledby", titleId);
  const head = element("div", undefined, "card-head");
  const title = element("h3", change.question);
  title.id = titleId;
  const pills = element("p", undefined, "pills");
  pills.append(element("span", SOURCE_NAMES[change.source] || change.source, "pill source"));
  if (change.new) pills.append(element("span", "新增条目", "pill answered"));
  if (change.status === "retired") pills.append(element("span", "下线", "pill retired"));
  if (change.effective_from) {
    pills.append(element("span", `${change.effective_from} 起生效`, "pill soft"));
  }
  head.append(title, pills);
  li.append(head);
  li.append(element("p", `条目 ${change.entry_id} · 第 ${change.version} 版 · `
    + `${change.service || serviceName(change.item_no)} · ${change.department}`, "meta"));
  li.append(element("p", `${change.author} 提交于 ${moment(change.submitted_at)}`
    + `${change.reason ? ` · 原因：${change.reason}` : ""}`, "meta"));
  li.append(changesList(change.changes, `第 ${change.version} 版${change.new ? "的内容" : "与已发布版本的差异"}`));
  const live = element("p", undefined, "live");
  live.hidden = true;
  live.setAttribute("aria-live", "polite");
  if (change.own) {
    li.append(element("p", "这是您提交的修改，需由其他维护员或督导审核。", "own-note"));
  } else {
    li.append(reviewForm(change, li, live));
  }
  li.append(live);
  return li;
}

function reviewForm(change, li, live) {
  const form = element("form", undefined, "review-form");
  const id = `comment-${change.entry_id}-${change.version}`;
  const label = element("label", "审核意见（退回时必填）");
  label.htmlFor = id;
  const comment = element("input");
  comment.id = id;
  comment.maxLength = 500;
  const actions = element("div", undefined, "actions");
  const approve = element("button", "通过");
  approve.type = "submit";
  const back = element("button", "退回", "danger");
  back.type = "button";
  actions.append(approve, back);
  form.append(label, comment, actions);
  const path = `/api/kb/entries/${encodeURIComponent(change.entry_id)}`;

  // Approve or return this change with the comment: the reply's body once done (the form
  // goes), null when refused (said in the status line).
  async function decide(move, failed) {
    approve.disabled = back.disabled = true;
    const { ok, body } = await api(`${path}/${move}`, {
      method: "POST", data: { version: change.version, comment: comment.value } });
    if (!ok) {
      approve.disabled = back.disabled = false;
      setStatus(body.error || failed, "error");
      return null;
    }
    form.remove();
    li.classList.add("done");
    return body;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = await decide("approve", "审核未完成，请稍后再试");
    if (!body) return;
    notice(`已通过：${change.question}`);
    const from = body.published?.effective_from;
    showLive(live, body.revision, from && from > body.today ? from : null);
  });

  back.addEventListener("click", async () => {
    if (!comment.value.trim()) {
      setStatus("退回需要填写审核意见", "error");
      comment.focus();
      return;
    }
    if (!await decide("return", "退回未完成，请稍后再试")) return;
    live.hidden = false;
    live.className = "live returned";
    live.textContent = `已退回给 ${change.author}：${comment.value.trim()}`;
    notice("已退回");
  });
  return form;
}

$("refresh").addEventListener("click", loadQueue);
$("filter-department").addEventListener("change", loadQueue);

boot(() => {
  fillSelect($("filter-department"), departmentOptions());
  loadQueue();
});
