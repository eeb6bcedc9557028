// The departments' gap tasks, as a knowledge-base maintainer works them: log in (the staff
// cookie, as on the console), see the department's tasks with the overdue ones marked, open
// one, read every phrasing and the conversations behind it, write the answer wording (or take
// a seat's), save the draft, publish; or reject, merge, assign. Supervisors see every
// department. The report tab: totals, charts (ECharts, loaded when the tab first opens),
// the most-asked unanswered questions, and the downloads. All data is shown as text.
import { element, timeOf } from "/static/events.js";
import { $, api, boot, fillSelect, notice, readJson, serviceOptions, setStatus, state }
  from "/static/kb.js";

const COUNTS_MS = 30_000;  // the overdue badge's refresh
const STATUS_NAMES = { open: "待处理", answered: "已答复（待审核）", published: "已发布",
                       rejected: "已驳回", merged: "已合并" };
const REASON_NAMES = { fallback: "小申未能回答", not_covered: "知识库未收录该事项",
                       clarify_abandoned: "未选择具体事项", unresolved: "市民反馈没解决",
                       low_rating: "市民评价低分", escalation: "转人工", after_hours: "非工作时间留言" };
const SENDER_NAMES = { customer: "市民", bot: "小申", seat: "坐席", system: "系统" };
const PENDING = ["open", "answered"];

// kb.js's state (the login, the services) with this page's: the open task, the seat's candidate
// answer taken, the overdue badge's timer, whether the report was loaded.
Object.assign(state, { task: null, candidate: null, countsTimer: null, reportLoaded: false });

// -- after a login (kb.js's boot), and back at the login form -------------------------------

function start() {
  showTab("tasks");
  showTask(null);
  loadChoices().then(loadTasks);
  refreshCounts();
  state.countsTimer = setInterval(refreshCounts, COUNTS_MS);
}

function stop() {
  clearInterval(state.countsTimer);
  Object.assign(state, { task: null, candidate: null, reportLoaded: false });
  $("overdue-badge").hidden = true;
}

// -- services, departments, the overdue badge -----------------------------------------------

async function loadChoices() {
  fillSelect($("filter-item"), serviceOptions());
  fillSelect($("answer-item"), serviceOptions());
  if (state.me.role === "supervisor") {
    const departments = await api("/api/gaps/departments");
    if (departments.ok) {
      const options = departments.body.departments.map((name) => ({ value: name, label: name }));
      fillSelect($("filter-department"), options);
      fillSelect($("report-department"), options);
    }
  }
}

async function refreshCounts() {
  const department = state.me?.role === "supervisor" ? $("filter-department").value : "";
  const { ok, body } = await api(`/api/gaps/counts${department ? `?department=${encodeURIComponent(department)}` : ""}`);
  if (!ok) return;
  const badge = $("overdue-badge");
  badge.hidden = false;
  badge.textContent = `逾期 ${body.overdue}`;
  badge.classList.toggle("late", body.overdue > 0);
  badge.setAttribute("aria-label", `逾期任务 ${body.overdue} 个`);
}

$("overdue-badge").addEventListener("click", () => {
  showTab("tasks");
  $("filter-status").value = "";
  $("filter-overdue").checked = true;
  loadTasks();
});

// -- the task list --------------------------------------------------------------------------

function filterQuery() {
  const query = new URLSearchParams();
  if ($("filter-status").value) query.set("status", $("filter-status").value);
  if ($("filter-item").value) query.set("item_no", $("filter-item").value);
  if ($("filter-overdue").checked) query.set("overdue", "1");
  if (state.me.role === "supervisor" && $("filter-department").value) {
    query.set("department", $("filter-department").value);
  }
  return query.toString();
}

for (const id of ["filter-status", "filter-item", "filter-department", "filter-overdue"]) {
  $(id).addEventListener("change", () => {
    loadTasks();
    if (id === "filter-department") refreshCounts();
  });
}
$("filters").addEventListener("submit", (event) => { event.preventDefault(); loadTasks(); });

const day = (iso) => (iso || "").slice(0, 10);
const moment = (iso) => (iso ? `${iso.slice(5, 10)} ${timeOf(iso)}` : "");

function dueText(task) {
  const text = `截止 ${task.due_on}${task.provisional ? "（暂定）" : ""}`;
  return task.overdue ? `${text} · 已逾期` : text;
}

function serviceName(task) {
  return task.service || (task.item_no != null ? state.items.get(task.item_no)?.name : "")
    || "未确定事项";
}

async function loadTasks() {
  const { ok, body } = await api(`/api/gaps?${filterQuery()}`);
  const list = $("task-list");
  if (!ok) { setStatus(body.error || "任务列表加载失败", "error"); return; }
  $("list-count").textContent = `${body.tasks.length} 个`;
  list.replaceChildren(...body.tasks.map(taskItem));
}

function taskItem(task) {
  const li = element("li");
  const button = element("button", undefined, `task-item${task.overdue ? " overdue" : ""}`);
  button.type = "button";
  button.dataset.id = task.id;
  if (task.id === state.task?.id) button.setAttribute("aria-current", "true");
  const status = STATUS_NAMES[task.status] || task.status;
  button.setAttribute("aria-label", `#${task.id} ${task.title}，${task.ask_count}次提问，`
    + `${status}，${dueText(task)}`);
  const head = element("span", undefined, "head");
  head.append(element("span", `#${task.id}`, "number"),
              element("span", STATUS_NAMES[task.status] || task.status, `pill ${task.status}`));
  const title = element("span", task.title, "title");
  const meta = element("span", `${serviceName(task)} · ${task.department}`, "meta");
  const foot = element("span", undefined, "foot");
  foot.append(element("span", `${task.ask_count} 次提问`, "asks"),
              element("span", dueText(task), `due${task.overdue ? " late" : ""}`));
  button.append(head, title, meta, foot);
  button.addEventListener("click", () => openTask(task.id));
  li.append(button);
  return li;
}

function markCurrent() {
  for (const button of $("task-list").querySelectorAll("button.task-item")) {
    if (Number(button.dataset.id) === state.task?.id) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
}

// -- one task -------------------------------------------------------------------------------

async function openTask(id) {
  const { ok, body } = await api(`/api/gaps/${id}`);
  if (!ok) { setStatus(body.error || "任务加载失败", "error"); return; }
  showTask(body);
  if (matchMedia("(max-width: 800px)").matches) $("task").scrollIntoView({ block: "start" });
}

function fact(list, term, value, className = "") {
  if (value === undefined || value === null || value === "") return;
  const wrap = element("div", undefined, className);
  wrap.append(element("dt", term), element("dd", String(value)));
  list.append(wrap);
}

function showTask(task) {
  state.task = task;
  state.candidate = null;
  markCurrent();
  $("no-task").hidden = Boolean(task);
  $("task").hidden = !task;
  if (!task) return;
  $("task-number").textContent = `任务 #${task.id} · ${task.department}`;
  $("task-title").textContent = task.title;
  const status = STATUS_NAMES[task.status] || task.status;
  $("task-state").replaceChildren(element("span", status, `pill ${task.status}`));
  if (task.overdue) $("task-state").append(element("span", "已逾期", "pill late"));
  if (task.provisional && PENDING.includes(task.status)) {
    $("task-state").append(element("span", "截止日期暂定（当年官方日历未导入）", "pill soft"));
  }
  const facts = $("task-facts");
  facts.replaceChildren();
  fact(facts, "事项", serviceName(task));
  fact(facts, "提问次数", `${task.ask_count} 次`);
  fact(facts, "首次提问", moment(task.first_asked_at));
  fact(facts, "最近提问", moment(task.last_asked_at));
  fact(facts, "截止日期", `${task.due_on}${task.provisional ? "（暂定）" : ""}`,
       task.overdue ? "late" : "");
  fact(facts, "指派给", task.assignee || "未指派");
  fact(facts, "答复人", task.answered_by);
  fact(facts, "最近修改", task.updated_by ? `${task.updated_by} ${moment(task.updated_at)}` : "");
  showPhrasings(task);
  showSeatAnswers(task);
  showWork(task);
}

function showPhrasings(task) {
  $("phrasing-count").textContent = `${task.phrasings.length} 种`;
  $("phrasings").replaceChildren(...task.phrasings.map((phrasing) => {
    const li = element("li", undefined, "phrasing");
    li.append(element("p", phrasing.text, "text"));
    const reasons = phrasing.reasons.map((r) => REASON_NAMES[r] || r).join("、");
    li.append(element("p", `${phrasing.count} 次 · 首次 ${moment(phrasing.first_asked_at)}`
      + ` · 最近 ${moment(phrasing.last_asked_at)} · ${reasons}`, "meta"));
    for (const id of phrasing.conversation_ids) {
      const messages = task.conversations[id];
      if (messages) li.append(conversation(id, messages));
    }
    return li;
  }));
}

function conversation(id, messages) {
  const details = element("details", undefined, "conversation");
  details.append(element("summary", `查看会话 ${id.slice(0, 8)}（${messages.length} 条消息）`));
  const log = element("ol", undefined, "messages-log");
  log.setAttribute("aria-label", `会话 ${id.slice(0, 8)} 的记录`);
  for (const message of messages) {
    const li = element("li", undefined, `said ${message.sender}`);
    const who = element("span", `${SENDER_NAMES[message.sender] || message.sender} `, "who");
    who.append(element("time", moment(message.created_at)));
    const body = message.kind === "image" ? "[图片]" : message.kind === "voice" ? "[语音]"
      : message.body;
    li.append(who, element("p", body));
    log.append(li);
  }
  details.append(log);
  return details;
}

function showSeatAnswers(task) {
  const answered = task.questions.filter((q) => q.seat_answer);
  $("seat-block").hidden = answered.length === 0;
  const pending = PENDING.includes(task.status);
  $("seat-answers").replaceChildren(...answered.map((question) => {
    const li = element("li", undefined, "seat-answer");
    const candidate = task.candidates[question.candidate_entry_id];
    li.append(element("p", `坐席 ${question.seat || ""} · ${moment(question.asked_at)}`, "meta"));
    li.append(element("p", question.seat_answer, "text"));
    if (candidate) {
      li.append(element("p", `已存为候选条目 ${question.candidate_entry_id}：${candidate.question}`,
                        "meta"));
    }
    if (pending) {
      const take = element("button", "采用坐席答复", "secondary");
      take.type = "button";
      take.addEventListener("click", () => adopt(question, candidate));
      li.append(take);
    }
    return li;
  }));
}

function adopt(question, candidate) {
  $("answer-text").value = candidate?.answer || question.seat_answer;
  if (candidate) {
    state.candidate = question.candidate_entry_id;
    if (candidate.question) $("answer-question").value = candidate.question;
    if (candidate.item_no != null) $("answer-item").value = String(candidate.item_no);
  }
  $("answer-text").focus();
  notice(candidate ? `已采用坐席 ${question.seat} 保存的候选答复，可修改后提交审核`
    : `已填入坐席 ${question.seat} 的答复，可修改后提交审核`, "");
}

function showWork(task) {
  const pending = PENDING.includes(task.status);
  $("work-block").hidden = !pending;
  $("closed-note").hidden = pending;
  if (!pending) {
    const when = moment(task.closed_at);
    $("closed-note").textContent = {
      published: `已发布：${task.entry?.question || ""}（${task.updated_by || ""} ${when}）。小申已按此答复。`,
      rejected: `已驳回（${task.updated_by || ""} ${when}）：${task.reject_reason || ""}`,
      merged: `已合并到任务 #${task.merged_into}（${task.updated_by || ""} ${when}）`,
    }[task.status] || "";
    if (task.status === "published" && task.entry) {
      $("closed-note").append(element("span", task.entry.answer, "answer"));
    }
    return;
  }
  $("answer-question").value = task.entry?.question || task.title;
  const item = task.entry?.item_no ?? task.item_no;
  $("answer-item").value = item != null ? String(item) : "";
  $("answer-text").value = task.entry?.answer || "";
  $("publish").disabled = false;
  $("reject-reason").value = "";
  $("merge-into").value = "";
  $("merge-button").textContent = "合并";
  $("assign-to").value = task.assignee || "";
}

function answerData() {
  const item = $("answer-item").value;
  return { answer: $("answer-text").value, question: $("answer-question").value,
           item_no: item ? Number(item) : null, candidate_entry_id: state.candidate,
           version: state.task.version };
}

// The form differs from the saved draft (or there is none yet).
function unsaved() {
  const { task } = state;
  const data = answerData();
  return task.status !== "answered" || !task.entry || data.answer.trim() !== task.entry.answer
    || data.question.trim() !== task.entry.question || data.item_no !== task.entry.item_no;
}

// One change of the open task; the task as it is after (or null when refused, said why).
async function change(action, data) {
  const id = state.task.id;
  const { ok, status, body } = await api(`/api/gaps/${id}/${action}`, {
    method: "POST", data: { ...data, version: state.task.version },
  });
  if (ok) return body;
  if (status === 409 && body.task) {
    showTask(body.task);
    setStatus(`已被 ${body.task.updated_by || "他人"} 修改，已重新载入最新内容，请核对后再操作`,
              "error");
  } else {
    setStatus(body.error || "操作未完成，请稍后再试", "error");
  }
  return null;
}

async function afterChange(task, text) {
  showTask(task);
  notice(text, "ok");
  await loadTasks();
  markCurrent();
  refreshCounts();
}

async function saveDraft() {
  const task = await change("answer", answerData());
  if (task) await afterChange(task, `任务 #${task.id} 的答复已提交审核`);
  return task;
}

$("answer").addEventListener("submit", (event) => { event.preventDefault(); saveDraft(); });

// Approving: the reviewer is someone other than the author (the server refuses the author).
$("publish").addEventListener("click", async () => {
  if (unsaved() && !(await saveDraft())) return;
  const task = await change("publish", {});
  if (task) await afterChange(task, `任务 #${task.id} 已发布，小申将按此口径答复`);
});

$("reject").addEventListener("submit", async (event) => {
  event.preventDefault();
  const task = await change("reject", { reason: $("reject-reason").value });
  if (task) await afterChange(task, `任务 #${task.id} 已驳回`);
});

$("merge-into").addEventListener("input", () => {
  const into = $("merge-into").value.trim();
  $("merge-button").textContent = /^\d+$/.test(into) ? `合并到 #${into}` : "合并";
});

$("merge").addEventListener("submit", async (event) => {
  event.preventDefault();
  const into = $("merge-into").value.trim();
  if (!/^\d+$/.test(into)) { setStatus("请输入要合并到的任务编号", "error"); return; }
  const from = state.task.id;
  const task = await change("merge", { into: Number(into) });
  if (task) await afterChange(task, `任务 #${from} 已合并到 #${task.id}`);
});

$("assign").addEventListener("submit", async (event) => {
  event.preventDefault();
  const task = await change("assign", { assignee: $("assign-to").value });
  if (task) await afterChange(task, task.assignee ? `已指派给 ${task.assignee}` : "已取消指派");
});

// -- tabs -----------------------------------------------------------------------------------

const TABS = { tasks: ["tab-tasks", "tasks-panel"], report: ["tab-report", "report-panel"] };

function showTab(name) {
  for (const [key, [tab, panel]] of Object.entries(TABS)) {
    const selected = key === name;
    $(tab).setAttribute("aria-selected", String(selected));
    $(tab).tabIndex = selected ? 0 : -1;
    $(panel).hidden = !selected;
  }
  if (name === "report" && !state.reportLoaded) openReport();
}

$("tab-tasks").addEventListener("click", () => showTab("tasks"));
$("tab-report").addEventListener("click", () => showTab("report"));
document.querySelector("[role=tablist]").addEventListener("keydown", (event) => {
  if (!["ArrowLeft", "ArrowRight"].includes(event.key)) return;
  const next = $("tab-tasks").getAttribute("aria-selected") === "true" ? "report" : "tasks";
  showTab(next);
  $(TABS[next][0]).focus();
});

// -- the report -----------------------------------------------------------------------------

// Today in Shanghai, as YYYY-MM-DD (reports count Shanghai days).
function shanghaiDay(offsetDays = 0) {
  const when = new Date(Date.now() + offsetDays * 86_400_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(when);
}

let echartsLoading = null;

function loadEcharts() {
  echartsLoading ||= new Promise((resolve, reject) => {
    const script = element("script");
    script.src = "/static/vendor/echarts.min.js";
    script.onload = () => resolve(window.echarts);
    script.onerror = () => { echartsLoading = null; reject(new Error("图表组件加载失败")); };
    document.head.append(script);
  });
  return echartsLoading;
}

function reportQuery() {
  const query = new URLSearchParams({ from: $("report-from").value, to: $("report-to").value });
  if (state.me.role === "supervisor" && $("report-department").value) {
    query.set("department", $("report-department").value);
  }
  return query.toString();
}

function openReport() {
  if (!$("report-from").value) $("report-from").value = shanghaiDay(-27);
  if (!$("report-to").value) $("report-to").value = shanghaiDay();
  loadReport();
}

$("report-range").addEventListener("submit", (event) => { event.preventDefault(); loadReport(); });

async function loadReport() {
  setStatus("正在统计…");
  const [{ ok, body }, echarts] = await Promise.all([
    api(`/api/gaps/report?${reportQuery()}`), loadEcharts().catch(() => null)]);
  if (!ok) { setStatus(body.error || "报表加载失败", "error"); return; }
  state.reportLoaded = true;
  showReport(body, echarts);
  setStatus(echarts ? "" : "图表组件加载失败，仅显示表格", echarts ? "" : "error");
}

// The totals as cards, the charts (when ECharts loaded), and the tables, all as text.
function showReport(report, echarts) {
  const scope = report.department || "全部部门";
  $("report-period").textContent = `${report.start} 至 ${report.end} · ${scope}`
    + ` · 生成于 ${moment(report.generated_at)}`;
  showTotals(report);
  table("departments", report.columns.by_department, report.by_department, report);
  table("services", report.columns.by_service, report.by_service, report);
  table("top", report.columns.top_unanswered, report.top_unanswered, report);
  if (echarts) {
    departmentChart(echarts, report);
    trendChart(echarts, report);
  }
}

const CARD_CLASSES = { closed_in_time: "ok", closed_late: "late", overdue_now: "late" };

function showTotals(report) {
  const totals = $("totals");
  totals.replaceChildren();
  for (const { key, title } of report.columns.totals) {
    if (["start", "end", "department", "generated_at"].includes(key)) continue;
    const value = report.totals[key];
    fact(totals, title, value ?? "—", CARD_CLASSES[key] || "");
  }
}

function cellText(key, value, report) {
  if (value === null || value === undefined) return "—";
  if (key === "status") return report.status_names[value] || value;
  if (key === "overdue") return value ? "是" : "否";
  return String(value);
}

function table(name, columns, rows, report) {
  const headRow = element("tr");
  for (const { title } of columns) {
    const th = element("th", title);
    th.scope = "col";
    headRow.append(th);
  }
  $(`${name}-head`).replaceChildren(headRow);
  const body = $(`${name}-body`);
  if (!rows.length) {
    const td = element("td", "该时间段内没有任务", "empty");
    td.colSpan = columns.length;
    const tr = element("tr");
    tr.append(td);
    body.replaceChildren(tr);
    return;
  }
  body.replaceChildren(...rows.map((row) => {
    const tr = element("tr");
    for (const { key } of columns) {
      const value = row[key];
      tr.append(element("td", cellText(key, value, report),
                        typeof value === "number" ? "number" : ""));
    }
    return tr;
  }));
}

const charts = {};

function chart(echarts, id, option) {
  charts[id] ||= echarts.init($(id), null, { renderer: "svg" });
  charts[id].setOption(option, true);
  const described = $(id).getAttribute("aria-labelledby");
  $(id).setAttribute("aria-label", `${$(described).textContent}（数据见下方表格）`);
}

addEventListener("resize", () => { for (const c of Object.values(charts)) c.resize(); });

const DEPARTMENT_SERIES = ["opened", "closed_in_time", "closed_late", "overdue_now"];
const COLORS = ["#1f5fa8", "#2e8540", "#c77700", "#c0392b"];

function titleOf(report, view, key) {
  return report.columns[view].find((column) => column.key === key)?.title || key;
}

function departmentChart(echarts, report) {
  const rows = report.by_department;
  chart(echarts, "chart-departments", {
    color: COLORS, tooltip: { trigger: "axis" }, legend: { top: 0 },
    grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
    xAxis: { type: "category", data: rows.map((row) => row.department),
             axisLabel: { interval: 0, rotate: rows.length > 4 ? 30 : 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: DEPARTMENT_SERIES.map((key) => ({
      type: "bar", name: titleOf(report, "by_department", key),
      data: rows.map((row) => row[key]) })),
  });
}

const TREND_SERIES = ["opened", "closed", "overdue"];

function trendChart(echarts, report) {
  const rows = report.weekly;
  chart(echarts, "chart-trend", {
    color: [COLORS[0], COLORS[1], COLORS[3]], tooltip: { trigger: "axis" }, legend: { top: 0 },
    grid: { left: 8, right: 8, bottom: 8, top: 36, containLabel: true },
    xAxis: { type: "category", data: rows.map((row) => row.week_start.slice(5)) },
    yAxis: { type: "value", minInterval: 1 },
    series: TREND_SERIES.map((key) => ({
      type: "line", name: titleOf(report, "weekly", key), data: rows.map((row) => row[key]) })),
  });
}

async function download(format) {
  setStatus("正在生成文件…");
  let response;
  try {
    response = await fetch(`/api/gaps/report/download?${reportQuery()}&format=${format}`);
  } catch {
    setStatus("无法连接服务，请稍后再试", "error");
    return;
  }
  if (!response.ok) {
    setStatus((await readJson(response)).error || "下载失败", "error");
    return;
  }
  const disposition = response.headers.get("content-disposition") || "";
  const named = /filename\*=UTF-8''([^;]+)/.exec(disposition);
  const link = element("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = named ? decodeURIComponent(named[1]) : `gap-report.${format}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  notice("文件已生成，请在浏览器的下载中查看", "ok");
}

$("download-xlsx").addEventListener("click", () => download("xlsx"));
$("download-csv").addEventListener("click", () => download("csv"));

boot(start, stop);
