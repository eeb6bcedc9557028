// The entry list and editor: search and filter the department's entries (with how often the
// bot answered with each), open one, edit it with a reason, save a draft or submit it for
// review; a save made on a version someone has changed since is refused and the change shown.
// The hit test asks the bot what it would answer with the draft published; the history shows
// each version's diff, and an older published version can be rolled back to.
import { element } from "/static/events.js";
import {
  $, REVIEW_NAMES, SOURCE_NAMES, STATUS_NAMES, api, boot, changesList, departmentOptions,
  fillSelect, moment, notice, serviceName, serviceOptions, setStatus, showLive, state,
} from "/static/kb.js";

const OUTCOME_NAMES = { answered: "直接答复", clarify: "请市民选择具体事项", fallback: "无法回答，转人工",
                        handoff: "转人工", out_of_scope: "引导至其他渠道", chitchat: "寒暄" };
const page = { entry: null, rollbackTo: null, days: 30 };

// -- the list -------------------------------------------------------------------------------

function listQuery() {
  const query = new URLSearchParams();
  const text = $("search-text").value.trim();
  if (text) query.set("q", text);
  for (const [id, key] of [["filter-item", "item_no"], ["filter-status", "status"],
                           ["filter-department", "department"], ["filter-policy", "policy"]]) {
    if ($(id).value && !$(id).closest("[hidden]")) query.set(key, $(id).value);
  }
  return query.toString();
}

async function loadEntries() {
  const { ok, body } = await api(`/api/kb/entries?${listQuery()}`);
  if (!ok) { setStatus(body.error || "条目列表加载失败", "error"); return; }
  page.days = body.hits_days;
  $("list-count").textContent = body.more
    ? `前 ${body.entries.length} 条（更多请搜索或筛选）` : `${body.entries.length} 条`;
  $("entry-list").replaceChildren(...body.entries.map((entry) => entryItem(entry, body.today)));
}

function entryState(entry, today) {
  if (entry.status === "published" && entry.effective_from && entry.effective_from > today) {
    return "scheduled";
  }
  if (entry.status === "published" && entry.effective_to && entry.effective_to < today) {
    return "expired";
  }
  return entry.status;
}

function entryItem(entry, today) {
  const li = element("li");
  const button = element("button", undefined, "task-item entry-item");
  button.type = "button";
  button.dataset.id = entry.entry_id;
  if (entry.entry_id === page.entry?.entry_id) button.setAttribute("aria-current", "true");
  const status = entryState(entry, today);
  const pending = entry.pending_review ? REVIEW_NAMES[entry.pending_review] : "";
  button.setAttribute("aria-label", `${entry.question}，${STATUS_NAMES[status] || status}`
    + `${pending ? `，有${pending}的修改` : ""}，近${page.days}天命中 ${entry.hits} 次`);
  const head = element("span", undefined, "head");
  const pills = element("span", undefined, "pills");
  pills.append(element("span", STATUS_NAMES[status] || status, `pill ${status}`));
  if (pending) pills.append(element("span", pending, `pill ${entry.pending_review}`));
  head.append(element("span", entry.entry_id, "number"), pills);
  const meta = element("span", `${entry.service || serviceName(entry.item_no)} · ${entry.department}`,
                       "meta");
  const foot = element("span", undefined, "foot");
  foot.append(element("span", `近${page.days}天命中 ${entry.hits} 次`, "asks"),
              element("span", `第 ${entry.version} 版`, "due"));
  button.append(head, element("span", entry.question, "title"), meta, foot);
  button.addEventListener("click", () => openEntry(entry.entry_id));
  li.append(button);
  return li;
}

function markCurrent() {
  for (const button of $("entry-list").querySelectorAll("button.entry-item")) {
    if (button.dataset.id === page.entry?.entry_id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

$("search").addEventListener("submit", (event) => { event.preventDefault(); loadEntries(); });
for (const id of ["filter-item", "filter-status", "filter-department", "filter-policy"]) {
  $(id).addEventListener("change", loadEntries);
}

// -- one entry ------------------------------------------------------------------------------

async function openEntry(id) {
  const { ok, body } = await api(`/api/kb/entries/${encodeURIComponent(id)}`);
  if (!ok) { setStatus(body.error || "条目加载失败", "error"); return; }
  showEntry(body);
  history.replaceState(null, "", `#${encodeURIComponent(id)}`);
  if (matchMedia("(max-width: 800px)").matches) $("entry").scrollIntoView({ block: "start" });
}

function fact(list, term, value) {
  if (value === undefined || value === null || value === "") return;
  const wrap = element("div");
  wrap.append(element("dt", term), element("dd", String(value)));
  list.append(wrap);
}

function fillForm(version) {
  $("edit-question").value = version?.question || "";
  $("edit-similar").value = (version?.similar_questions || []).join("\n");
  $("edit-answer").value = version?.answer || "";
  $("edit-item").value = version ? String(version.item_no) : ($("edit-item").options[1]?.value || "");
  $("edit-topic").value = version?.topic || "";
  $("edit-from").value = version?.effective_from || "";
  $("edit-to").value = version?.effective_to || "";
  $("edit-status").value = version?.status === "retired" ? "retired" : "published";
  $("edit-reason").value = "";
}

// The open entry (null: a new one), as the server has it now.
function showEntry(entry) {
  page.entry = entry;
  markCurrent();
  $("no-entry").hidden = true;
  $("entry").hidden = false;
  $("stale").hidden = true;
  $("live").hidden = true;
  $("hit-result").hidden = true;
  const latest = entry?.history[0] || null;
  const shown = entry?.pending || entry?.published || latest;
  $("entry-number").textContent = entry ? `条目 ${entry.entry_id} · ${entry.department}` : "新条目";
  $("entry-title").textContent = shown?.question || "新建条目";
  const states = $("entry-state");
  states.replaceChildren();
  if (entry) {
    states.append(element("span", STATUS_NAMES[entry.status] || entry.status, `pill ${entry.status}`));
    if (entry.pending) {
      states.append(element("span", `第 ${entry.pending.version} 版${REVIEW_NAMES[entry.pending.review]}`,
                            `pill ${entry.pending.review}`));
    }
  }
  const facts = $("entry-facts");
  facts.replaceChildren();
  if (entry) {
    fact(facts, "所属事项", serviceName(shown.item_no));
    fact(facts, "线上版本", entry.published ? `第 ${entry.published.version} 版` : "尚未发布");
    fact(facts, `近${entry.hits_days}天命中`, `${entry.hits} 次`);
    fact(facts, "生效日期", shown.effective_from || "立即");
    fact(facts, "失效日期", shown.effective_to || "长期");
    fact(facts, "相关政策", entry.policies.map((p) => `${p.title}（${p.doc_number || "无文号"}，${p.effective_on} 生效）`).join("；"));
  }
  fillForm(shown);
  $("edit-base").textContent = entry
    ? `基于第 ${entry.latest_version} 版编辑${entry.pending ? `（${REVIEW_NAMES[entry.pending.review]}，${entry.pending.author}）` : ""}`
    : "新条目保存后，需由其他维护员或督导审核通过才会上线。";
  $("withdraw").hidden = !(entry?.pending?.review === "in_review" && entry.pending.own);
  showPending(entry);
  showHistory(entry);
}

function showPending(entry) {
  const pending = entry?.pending;
  $("pending-block").hidden = !pending;
  if (!pending) return;
  const comment = pending.review === "returned" && pending.review_comment
    ? `。退回意见（${pending.reviewer}）：${pending.review_comment}` : "";
  $("pending-text").textContent = `第 ${pending.version} 版（${REVIEW_NAMES[pending.review]}，`
    + `${pending.author} ${moment(pending.created_at)}）${entry.published ? `与线上第 ${entry.published.version} 版相比` : "为新条目"}${comment}`;
  $("pending-changes").replaceChildren(changesList(pending.changes, "与已发布版本的差异"));
}

function showHistory(entry) {
  const current = entry?.current_version;
  $("history").replaceChildren(...(entry?.history || []).map((version) => {
    const li = element("li", undefined, `version ${version.review}`);
    const head = element("p", undefined, "version-head");
    head.append(element("strong", `第 ${version.version} 版`),
                element("span", REVIEW_NAMES[version.review] || version.review, `pill ${version.review}`));
    if (version.version === current) head.append(element("span", "线上版本", "pill published"));
    li.append(head);
    li.append(element("p", `${version.author} · ${moment(version.created_at)} · `
      + `${SOURCE_NAMES[version.source] || version.source}`
      + `${version.reviewer && version.review === "approved" ? ` · 审核 ${version.reviewer}` : ""}`, "meta"));
    if (version.reason) li.append(element("p", `原因：${version.reason}`, "meta"));
    if (version.review_comment) li.append(element("p", `审核意见：${version.review_comment}`, "meta"));
    const details = element("details", undefined, "conversation");
    details.append(element("summary", `查看第 ${version.version} 版的修改`));
    details.append(changesList(version.changes, `第 ${version.version} 版的修改`));
    li.append(details);
    if (version.review === "approved" && version.version !== current) {
      const back = element("button", `回滚到第 ${version.version} 版`, "secondary small");
      back.type = "button";
      back.addEventListener("click", () => askRollback(version.version));
      li.append(back);
    }
    return li;
  }));
}

// -- saving ---------------------------------------------------------------------------------

function formEntry() {
  return {
    question: $("edit-question").value, answer: $("edit-answer").value,
    similar_questions: $("edit-similar").value.split("\n").map((q) => q.trim()).filter(Boolean),
    item_no: $("edit-item").value === "" ? null : Number($("edit-item").value),
    topic: $("edit-topic").value, effective_from: $("edit-from").value || null,
    effective_to: $("edit-to").value || null, status: $("edit-status").value,
  };
}

async function save(submit) {
  const entry = page.entry;
  const data = { ...formEntry(), reason: $("edit-reason").value, submit };
  const path = entry ? `/api/kb/entries/${encodeURIComponent(entry.entry_id)}` : "/api/kb/entries";
  if (entry) data.base_version = entry.latest_version;
  const { ok, status, body } = await api(path, { method: "POST", data });
  if (status === 409 && body.latest) { showStale(body); return; }
  if (!ok) { setStatus(body.error || "保存未完成，请稍后再试", "error"); return; }
  showEntry(body);
  notice(submit ? `已提交审核（第 ${body.pending.version} 版），由其他维护员或督导审核通过后上线`
    : `草稿已保存（第 ${body.pending.version} 版）`);
  loadEntries();
}

function showStale(body) {
  $("stale").hidden = false;
  $("stale-text").textContent = `${body.latest.author} 于 ${moment(body.latest.created_at)} `
    + `保存了第 ${body.latest.version} 版（${REVIEW_NAMES[body.latest.review] || body.latest.review}），`
    + "您的保存未生效。他人的修改：";
  $("stale-changes").replaceChildren(changesList(body.changes, "他人的修改"));
  setStatus(body.error, "error");
  $("stale").scrollIntoView({ block: "nearest" });
}

$("stale-reload").addEventListener("click", () => openEntry(page.entry.entry_id));
$("editor").addEventListener("submit", (event) => { event.preventDefault(); save(true); });
$("save-draft").addEventListener("click", () => save(false));
$("withdraw").addEventListener("click", async () => {
  const entry = page.entry;
  const { ok, body } = await api(`/api/kb/entries/${encodeURIComponent(entry.entry_id)}/withdraw`, {
    method: "POST", data: { version: entry.pending.version } });
  if (!ok) { setStatus(body.error || "撤回未完成", "error"); return; }
  showEntry(body);
  notice("已撤回审核，可继续修改");
});
$("new-entry").addEventListener("click", () => {
  showEntry(null);
  history.replaceState(null, "", location.pathname);
  $("edit-question").focus();
});

// -- the hit test ---------------------------------------------------------------------------

$("hit-test").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = $("hit-result");
  result.hidden = false;
  result.className = "hit-result";
  result.textContent = "正在测试…";
  const entry = { ...formEntry(), entry_id: page.entry?.entry_id || null };
  const { ok, body } = await api("/api/kb/hit-test", {
    method: "POST", data: { question: $("hit-question").value, entry } });
  if (!ok) {
    result.className = "hit-result miss";
    result.textContent = body.error || "命中测试未完成，请稍后再试";
    return;
  }
  const ownEntry = body.uses_draft && (!entry.entry_id || body.entry_id === entry.entry_id);
  result.className = `hit-result ${ownEntry ? "hit" : "miss"}`;
  const verdict = body.outcome === "answered"
    ? (ownEntry ? "命中本条目（按草稿答复）"
      : `命中其他条目 ${body.entry_id}（${serviceName(body.item_no)}）`)
    : OUTCOME_NAMES[body.outcome] || body.outcome;
  result.replaceChildren(element("p", `小申将：${verdict}`, "verdict"));
  if (body.answer) result.append(element("p", body.answer, "answer"));
});

// The day a published entry starts being served, when that is after today (Shanghai).
function scheduledDay(entry) {
  const from = entry.published?.effective_from;
  return from && from > entry.today ? from : null;
}

// -- rollback -------------------------------------------------------------------------------

function askRollback(version) {
  page.rollbackTo = version;
  $("rollback-title").textContent = `回滚到第 ${version} 版`;
  $("rollback-text").textContent = `第 ${version} 版的内容将作为新版本立即上线（无需再审核），`
    + "历史版本都会保留。";
  $("rollback-reason").value = "";
  $("rollback-dialog").showModal();
}

$("rollback-cancel").addEventListener("click", () => $("rollback-dialog").close());
$("rollback").addEventListener("submit", async (event) => {
  event.preventDefault();
  const entry = page.entry;
  const { ok, status, body } = await api(`/api/kb/entries/${encodeURIComponent(entry.entry_id)}/rollback`, {
    method: "POST", data: { version: page.rollbackTo, reason: $("rollback-reason").value } });
  $("rollback-dialog").close();
  if (status === 409 && body.latest) { showStale(body); return; }
  if (!ok) { setStatus(body.error || "回滚未完成", "error"); return; }
  showEntry(body);
  notice(`已回滚到第 ${page.rollbackTo} 版（新版本为第 ${body.current_version} 版）`);
  loadEntries();
  showLive($("live"), body.revision, scheduledDay(body));
});

// -- start ----------------------------------------------------------------------------------

async function start() {
  const options = serviceOptions();
  fillSelect($("filter-item"), options);
  fillSelect($("edit-item"), serviceOptions(true));
  fillSelect($("filter-department"), departmentOptions());
  const policies = await api("/api/kb/policies?upcoming=0");
  if (policies.ok) {
    fillSelect($("filter-policy"), policies.body.policies.map((p) => ({
      value: String(p.id), label: `${p.title}${p.doc_number ? `（${p.doc_number}）` : ""}` })));
  }
  await loadEntries();
  const wanted = decodeURIComponent(location.hash.slice(1));
  if (wanted) openEntry(wanted);
}

boot(start);
