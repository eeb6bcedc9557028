// Policies: the upcoming ones (or all) of the department (supervisors: every department), each
// with its document number, effective date, the day its wording must be approved by, what it
// still lacks and whether it is flagged; and adding one with its services and entries.
import { element } from "/static/events.js";
import {
  $, api, boot, departmentOptions, fillSelect, notice, serviceOptions, setStatus, state,
} from "/static/kb.js";

const ENTRY_STATES = { ready: "已按时发布", late: "发布晚了", missing: "尚未发布" };

async function loadPolicies() {
  const query = new URLSearchParams({ upcoming: $("show-all").checked ? "0" : "1" });
  if (state.me.role === "supervisor" && $("filter-department").value) {
    query.set("department", $("filter-department").value);
  }
  const { ok, body } = await api(`/api/kb/policies?${query}`);
  if (!ok) { setStatus(body.error || "政策列表加载失败", "error"); return; }
  $("policy-count").textContent = `${body.policies.length} 项`;
  $("policies").replaceChildren(...body.policies.map(card));
}

function card(policy) {
  const li = element("li", undefined, `card${policy.flagged ? " flagged" : ""}`);
  const titleId = `policy-${policy.id}`;
  li.setAttribute("aria-labelledby", titleId);
  const head = element("div", undefined, "card-head");
  const title = element("h3", policy.title);
  title.id = titleId;
  const pills = element("p", undefined, "pills");
  if (policy.flagged) pills.append(element("span", "未按时准备", "pill late"));
  else if (policy.lacking.length) pills.append(element("span", "待完善", "pill open"));
  else pills.append(element("span", "口径已就绪", "pill published"));
  head.append(title, pills);
  li.append(head);
  const facts = element("dl", undefined, "facts");
  const fact = (term, value) => {
    const wrap = element("div");
    wrap.append(element("dt", term), element("dd", value));
    facts.append(wrap);
  };
  fact("文号", policy.doc_number || "—");
  fact("生效日期", policy.effective_on);
  fact("口径最迟审核发布日", `${policy.ready_by}${policy.provisional ? "（暂定）" : ""}`);
  fact("涉及部门", policy.departments.join("、") || "—");
  li.append(facts);
  li.append(element("p", `受影响的事项：${policy.services.map((s) => s.name).join("、") || "未指定"}`,
                     "meta"));
  if (policy.entries.length) {
    const entries = element("ul", undefined, "policy-entries");
    entries.setAttribute("aria-label", `${policy.title}的实施条目`);
    for (const entry of policy.entries) {
      const item = element("li", undefined, entry.state);
      const link = element("a", `${entry.entry_id} ${entry.question}`);
      link.href = `/kb#${encodeURIComponent(entry.entry_id)}`;
      item.append(link, element("span", ` · ${ENTRY_STATES[entry.state] || entry.state}`
        + `${entry.approved_on ? `（${entry.approved_on}）` : ""}`, "meta"));
      entries.append(item);
    }
    li.append(entries);
  }
  if (policy.lacking.length) {
    const lacking = element("ul", undefined, "lacking");
    lacking.setAttribute("aria-label", `${policy.title}还缺少`);
    for (const text of policy.lacking) lacking.append(element("li", text));
    li.append(lacking);
  }
  li.append(linkForm(policy));
  return li;
}

// Name more entries that implement the policy.
function linkForm(policy) {
  const form = element("form", undefined, "inline-form link-form");
  const id = `link-${policy.id}`;
  const label = element("label", "关联条目编号");
  label.htmlFor = id;
  const row = element("div", undefined, "row");
  const input = element("input");
  input.id = id;
  input.maxLength = 1000;
  input.placeholder = "如：03-materials";
  const button = element("button", "关联", "secondary");
  button.type = "submit";
  row.append(input, button);
  form.append(label, row);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { ok, body } = await api(`/api/kb/policies/${policy.id}/entries`, {
      method: "POST", data: { entry_ids: entryIds(input.value) } });
    if (!ok) { setStatus(body.error || "关联未完成，请稍后再试", "error"); return; }
    notice(`已关联到政策：${body.title}`);
    loadPolicies();
  });
  return form;
}

const entryIds = (text) => text.split(/[\s,，、]+/).filter(Boolean);

$("add-policy").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = {
    title: $("policy-title").value, doc_number: $("policy-number").value,
    effective_on: $("policy-effective").value,
    item_nos: [...$("policy-items").selectedOptions].map((option) => Number(option.value)),
    entry_ids: entryIds($("policy-entries").value),
  };
  const { ok, body } = await api("/api/kb/policies", { method: "POST", data });
  if (!ok) { setStatus(body.error || "添加未完成，请稍后再试", "error"); return; }
  $("add-policy").reset();
  notice(`已添加政策：${body.title}（${body.effective_on} 生效，口径最迟于 ${body.ready_by} 审核发布）`);
  loadPolicies();
});

$("show-all").addEventListener("change", loadPolicies);
$("filter-department").addEventListener("change", loadPolicies);

boot(() => {
  fillSelect($("filter-department"), departmentOptions());
  fillSelect($("policy-items"), serviceOptions(true), false);
  loadPolicies();
});
